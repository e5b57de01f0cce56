// The catalog's encoding as catalog tree entries, and its comparison:
// Check() compares the decoded catalog tree with the newest checkpoint's
// catalog as structures (Catalog::operator==), which must agree with
// comparing their encodings.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "db/core.h"

namespace manifold {
namespace {

Catalog Sample() {
  Catalog c;
  c.next_id = 9;
  CfInfo& d = c.cfs["default"];
  d.id = 1;
  d.checkpoint_lsn = 40;
  TableInfo t;
  t.id = 3;
  t.tree.root = {17, 0xabcdef01};
  t.tree.depth = 2;
  t.tree.entries = 1000;
  d.tables["t"] = t;
  c.cfs["c1"].id = 4;
  return c;
}

TEST(CatalogTest, DecodedEncodingIsEqual) {
  const Catalog c = Sample();
  Catalog back;
  for (const auto& [k, v] : EncodeCatalog(c)) ASSERT_TRUE(DecodeCatalogEntry(k, v, &back).ok()) << k;
  EXPECT_TRUE(back == c);
  EXPECT_EQ(EncodeCatalog(back), EncodeCatalog(c));
}

TEST(CatalogTest, EveryEncodedFieldMakesCatalogsDiffer) {
  const std::vector<std::function<void(Catalog*)>> changes = {
      [](Catalog* c) { c->next_id++; },
      [](Catalog* c) { c->cfs["default"].id++; },
      [](Catalog* c) { c->cfs["default"].checkpoint_lsn++; },
      [](Catalog* c) { c->cfs["default"].tables["t"].id++; },
      [](Catalog* c) { c->cfs["default"].tables["t"].tree.root.page++; },
      [](Catalog* c) { c->cfs["default"].tables["t"].tree.root.checksum ^= 1; },
      [](Catalog* c) { c->cfs["default"].tables["t"].tree.depth++; },
      [](Catalog* c) { c->cfs["default"].tables["t"].tree.entries--; },
      [](Catalog* c) { c->cfs["c1"].tables["u"]; },
      [](Catalog* c) { c->cfs.Erase("c1"); },
      [](Catalog* c) { c->cfs["c2"]; },
  };
  const Catalog base = Sample();
  for (size_t i = 0; i < changes.size(); i++) {
    SCOPED_TRACE(i);
    Catalog changed = base;
    changes[i](&changed);
    EXPECT_FALSE(changed == base);
    EXPECT_NE(EncodeCatalog(changed), EncodeCatalog(base));
  }
}

}  // namespace
}  // namespace manifold
