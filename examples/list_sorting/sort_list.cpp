// sort_list — sorts a shopping list with a model trained by list_sorting.
//
//   sort_list --model runs/list_sorting/final.nn --store 3 --shopper 17 ITEM...
//
// ITEMs are product names or ids from catalogue.csv (next to the model unless
// --catalogue says otherwise). A store held out of training uses the
// embedding of a trained store of its chain; --store unknown uses the
// model's unknown-store token. Prints the list in the predicted pick order
// with each step's probability.
#include <nn/nn.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "../common/cli.hpp"
#include "picks.hpp"
#include "store.hpp"

namespace {
using F = float;

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> f;
  std::stringstream ss(line);
  std::string x;
  while (std::getline(ss, x, ',')) f.push_back(x);
  if (!line.empty() && line.back() == ',') f.push_back("");
  return f;
}

int to_int(const std::string& s, int lo, int hi, const std::string& what) {
  std::size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size() || v < lo || v > hi)
    throw std::invalid_argument(what + " '" + s + "' is not an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

// The catalogue and stores that list_sorting wrote, as a World without
// geometry (the model needs the ids, departments and aisles only).
store::World read_world(const std::string& catalogue, const std::string& stores, int shoppers) {
  store::World w;
  std::map<std::string, int> dept_id;
  for (int d = 0; d < 24; ++d) dept_id[store::department_name(d)] = d;
  std::ifstream in(catalogue);
  if (!in) throw std::runtime_error(catalogue + ": cannot open (list_sorting writes it next to the model)");
  std::string line;
  int n = 0, max_dept = -1, max_aisle = -1;
  std::getline(in, line);
  if (line.rfind("id,name,department,aisle", 0) != 0) throw std::runtime_error(catalogue + ": line 1 is not the catalogue header");
  std::vector<int> aisle_dept;
  while (std::getline(in, line)) {
    ++n;
    const std::string at = catalogue + ": line " + std::to_string(n + 1);
    const auto f = split_csv(line);
    if (f.size() < 4) throw std::runtime_error(at + ": expected id,name,department,aisle,...");
    if (to_int(f[0], 0, 1 << 24, at + ": id") != int(w.products.size()))
      throw std::runtime_error(at + ": ids must count up from 0");
    const auto d = dept_id.find(f[2]);
    if (d == dept_id.end()) throw std::runtime_error(at + ": unknown department '" + f[2] + "'");
    store::Product p;
    p.name = f[1], p.department = d->second, p.aisle = to_int(f[3], 0, 4096, at + ": aisle");
    max_dept = std::max(max_dept, p.department), max_aisle = std::max(max_aisle, p.aisle);
    if (int(aisle_dept.size()) <= p.aisle) aisle_dept.resize(std::size_t(p.aisle + 1), -1);
    if (aisle_dept[std::size_t(p.aisle)] >= 0 && aisle_dept[std::size_t(p.aisle)] != p.department)
      throw std::runtime_error(at + ": aisle " + f[3] + " is in two departments");
    aisle_dept[std::size_t(p.aisle)] = p.department;
    w.products.push_back(p);
  }
  if (w.products.empty()) throw std::runtime_error(catalogue + ": no products");
  for (int d = 0; d <= max_dept; ++d) w.departments.push_back(store::department_name(d));
  w.aisle_department = aisle_dept;
  std::ifstream sin(stores);
  if (!sin) throw std::runtime_error(stores + ": cannot open (list_sorting writes it next to the model)");
  std::getline(sin, line);
  if (line.rfind("store,chain,trained", 0) != 0) throw std::runtime_error(stores + ": line 1 is not the stores header");
  n = 0;
  while (std::getline(sin, line)) {
    ++n;
    const std::string at = stores + ": line " + std::to_string(n + 1);
    const auto f = split_csv(line);
    if (f.size() < 3 || (f[2] != "yes" && f[2] != "no")) throw std::runtime_error(at + ": expected store,chain,trained(yes|no)");
    if (to_int(f[0], 0, 1 << 20, at + ": store") != w.num_stores()) throw std::runtime_error(at + ": stores must count up from 0");
    store::Store st;
    st.chain = to_int(f[1], 0, 1 << 20, at + ": chain"), st.seen = f[2] == "yes";
    w.stores.push_back(st);
  }
  if (w.stores.empty()) throw std::runtime_error(stores + ": no stores");
  w.shoppers.resize(std::size_t(shoppers));
  return w;
}

// Rows of the embedding table named `name` (the model's vocabulary size).
nn::Index embedding_rows(nn::Graph<F>& g, const std::string& name) {
  for (std::size_t i = 0; i < g.num_layers(); ++i)
    if (g.layer_name(i) == name)
      if (auto* e = dynamic_cast<nn::Embedding<F>*>(&g.layer(i))) return e->weight().dim(0);
  throw std::runtime_error("the model has no Embedding named " + name);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, catalogue, store_arg, shopper_arg;
  std::vector<std::string> items;
  cli::Cli cli("sort_list", "Sorts a shopping list with a model trained by list_sorting.");
  cli.option("--model", &model_path, "FILE", "initial.nn or final.nn from list_sorting")
      .option("--catalogue", &catalogue, "DIR", "folder with catalogue.csv and stores.csv; default: the model's folder")
      .option("--store", &store_arg, "ID", "store id (stores.csv), or 'unknown'")
      .option("--shopper", &shopper_arg, "ID", "shopper id")
      .positional(&items, "ITEM");
  cli.parse(argc, argv);
  if (model_path.empty() || store_arg.empty() || shopper_arg.empty()) cli.fail("--model, --store and --shopper are required");
  if (items.empty()) cli.fail("give the items to sort (product names or ids)");
  try {
    auto g = nn::load_graph<F>(model_path);
    const picks::Kind kind = picks::kind_of(g);
    const std::string dir = catalogue.empty() ? std::filesystem::path(model_path).parent_path().string() : catalogue;
    const std::string base = dir.empty() ? "" : dir + "/";
    const int shoppers = int(embedding_rows(g, "shopper_embedding"));
    store::World w = read_world(base + "catalogue.csv", base + "stores.csv", shoppers);
    if (kind == picks::Kind::Final) {
      // the model's department and aisle vocabularies (a department or aisle
      // without products is still counted)
      const nn::Index D = embedding_rows(g, "department_embedding") - 1, A = embedding_rows(g, "aisle_embedding") - 1;
      if (nn::Index(w.departments.size()) > D || nn::Index(w.aisle_department.size()) > A)
        throw std::runtime_error(base + "catalogue.csv has departments or aisles the model does not know");
      for (nn::Index d = nn::Index(w.departments.size()); d < D; ++d) w.departments.push_back(store::department_name(int(d)));
      w.aisle_department.resize(std::size_t(A), -1);
    }
    const auto v = picks::vocab(w);
    if (embedding_rows(g, "product_embedding") != v.products + 1 || embedding_rows(g, "store_embedding") != v.stores + 1)
      throw std::runtime_error("the model and " + base + "catalogue.csv / stores.csv do not match (product or store counts differ)");
    int store = v.unknown_store();
    if (store_arg != "unknown") {
      const int s = to_int(store_arg, 0, v.stores - 1, "--store");
      if (w.stores[std::size_t(s)].seen) store = s;
      else {
        // a trained store of the same chain scores far better than the
        // unknown-store token (docs/examples/list_sorting.md)
        for (int k = 0; k < v.stores && store == v.unknown_store(); ++k)
          if (w.stores[std::size_t(k)].seen && w.stores[std::size_t(k)].chain == w.stores[std::size_t(s)].chain) store = k;
        if (store == v.unknown_store())
          std::printf("store %d was held out of training and its chain has no trained store: using the unknown-store "
                      "embedding\n", s);
        else
          std::printf("store %d was held out of training: using the embedding of store %d (same chain)\n", s, store);
      }
    }
    const int shopper = to_int(shopper_arg, 0, v.shoppers - 1, "--shopper");
    std::map<std::string, int> by_name;
    for (std::size_t p = 0; p < w.products.size(); ++p) by_name[w.products[p].name] = int(p);
    std::vector<int> ids;
    for (const auto& it : items) {
      int id = -1;
      const auto f = by_name.find(it);
      if (f != by_name.end()) id = f->second;
      else if (!it.empty() && it.find_first_not_of("0123456789") == std::string::npos && it.size() < 9 &&
               std::stoi(it) < v.products)
        id = std::stoi(it);
      if (id < 0) throw std::invalid_argument("unknown product '" + it + "' (not a name or id in " + base + "catalogue.csv)");
      if (std::find(ids.begin(), ids.end(), id) != ids.end()) throw std::invalid_argument("product '" + it + "' is listed twice");
      ids.push_back(id);
    }
    if (kind == picks::Kind::Final && int(ids.size()) > picks::max_candidates(g))
      throw std::invalid_argument(std::to_string(ids.size()) + " items; the model sorts lists of up to " +
                                  std::to_string(picks::max_candidates(g)));
    std::vector<std::vector<double>> prob;
    const auto sorted = picks::greedy_sort(g, w, {{store, shopper, ids}}, &prob)[0];
    std::printf("%s model, store %s, shopper %d: %zu items in predicted pick order\n", picks::kind_name(kind),
                store == v.unknown_store() ? "unknown" : std::to_string(store).c_str(), shopper, sorted.size());
    for (std::size_t k = 0; k < sorted.size(); ++k) {
      const auto& p = w.products[std::size_t(sorted[k])];
      std::printf("%3zu  %-36s %-14s p=%.2f\n", k + 1, p.name.c_str(), w.departments[std::size_t(p.department)].c_str(),
                  prob[0][k]);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sort_list: error: %s\n", e.what());
    return 1;
  }
}
