// A tiny DOM helper, standing in for a vendored ES module library.
export const $ = (selector, root = document) => root.querySelector(selector);

export function setText(selector, text) {
  const node = $(selector);
  if (node) node.textContent = text;
  return node;
}
