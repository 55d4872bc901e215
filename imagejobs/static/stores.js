// The store master, searchable by id, name and area code.

import { fill, h, plural, row, table } from "./dom.js";

const STORES = `query Stores($areaCode: String, $search: String, $first: Int, $after: String) {
  stores(areaCode: $areaCode, search: $search, first: $first, after: $after) {
    edges { node { id name areaCode } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const PAGE_SIZE = 50;
const HEADINGS = ["Store id", "Name", "Area code"];

function searchForm(params, app) {
  const search = h("input", { id: "store-search", type: "search", value: params.search || "", autocomplete: "off" });
  const area = h("input", { id: "store-area", value: params.area || "", autocomplete: "off", inputmode: "numeric" });
  const go = (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    if (search.value.trim()) query.set("search", search.value.trim());
    if (area.value.trim()) query.set("area", area.value.trim());
    app.navigate(`#/stores?${query}`);
  };
  return h("form", { className: "filters", role: "search", "aria-label": "Search stores", onsubmit: go },
    h("div", { className: "field" }, h("label", { for: "store-search" }, "Id or name"), search),
    h("div", { className: "field" }, h("label", { for: "store-area" }, "Area code"), area),
    h("button", { type: "submit" }, "Search"),
    h("a", { href: "#/stores", className: "button-link" }, "Clear"));
}

function withoutCursor(params) {
  const query = new URLSearchParams(params);
  query.delete("after");
  return query;
}

function pager(params, pageInfo) {
  if (!pageInfo.hasNextPage) return "";
  const next = new URLSearchParams(params);
  next.set("after", pageInfo.endCursor);
  return h("nav", { className: "pager", "aria-label": "Pages" },
    params.after ? h("a", { href: `#/stores?${withoutCursor(params)}` }, "← First") : "",
    h("a", { href: `#/stores?${next}`, rel: "next" }, "More →"));
}

/** Render the stores view; `params` holds search, area and after. */
export async function renderStores(main, params, app, scope) {
  const results = h("div", { id: "store-list" }, "Loading…");
  fill(main, h("h1", { tabindex: -1 }, "Stores"), searchForm(params, app), results);
  const data = await app.query(STORES, {
    search: params.search || null, areaCode: params.area || null, first: PAGE_SIZE, after: params.after || null,
  });
  if (!data || !scope.alive) return;
  const stores = data.stores.edges.map((e) => e.node);
  const rows = stores.map((s) => row(HEADINGS, [h("code", {}, s.id), s.name, s.areaCode]));
  const caption = stores.length ? `${plural(stores.length, "store")} on this page` : "No stores match";
  fill(results, table(caption, HEADINGS, rows), pager(params, data.stores.pageInfo));
}
