#pragma once
// Document-order walk over the elements of a libxml2 subtree, without recursion or
// allocation. Internal to hub/signing.

#include <libxml/tree.h>

namespace hub::signing::detail {

// Calls f(element) for `root` and every element below it, in document order.
template <class F>
void for_each_element(xmlNode* root, F&& f) {
  if (root == nullptr) return;
  xmlNode* n = root;
  for (;;) {
    if (n->type == XML_ELEMENT_NODE) {
      f(n);
      if (n->children != nullptr) {
        n = n->children;
        continue;
      }
    }
    while (n != root && n->next == nullptr) n = n->parent;
    if (n == root) return;
    n = n->next;
  }
}

}  // namespace hub::signing::detail
