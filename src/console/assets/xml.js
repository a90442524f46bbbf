// A stored document, pretty-printed as a collapsible tree: parsed with DOMParser and rebuilt as
// <details>/<summary> elements holding text nodes only, so nothing in the document is ever
// interpreted as markup of the page.
'use strict';

(function (CJ) {
  const h = CJ.h;
  const MAX_NODES = 20000;   // a pathological document is cut rather than freezing the tab

  function startTag(el) {
    const parts = [h('span', {class: 'xml-punct'}, '<'), h('span', {class: 'xml-name'}, el.nodeName)];
    for (const a of Array.from(el.attributes)) {
      parts.push(' ', h('span', {class: 'xml-attr'}, a.name), h('span', {class: 'xml-punct'}, '="'),
        h('span', {class: 'xml-value'}, a.value), h('span', {class: 'xml-punct'}, '"'));
    }
    parts.push(h('span', {class: 'xml-punct'}, '>'));
    return parts;
  }

  function endTag(el) {
    return [h('span', {class: 'xml-punct'}, '</'), h('span', {class: 'xml-name'}, el.nodeName),
      h('span', {class: 'xml-punct'}, '>')];
  }

  function significant(node) {
    if (node.nodeType === Node.ELEMENT_NODE) return true;
    if (node.nodeType === Node.TEXT_NODE || node.nodeType === Node.CDATA_SECTION_NODE) return node.nodeValue.trim() !== '';
    return node.nodeType === Node.COMMENT_NODE;
  }

  function render(node, budget) {
    if (budget.left-- <= 0) return null;
    if (node.nodeType === Node.TEXT_NODE || node.nodeType === Node.CDATA_SECTION_NODE) {
      return h('div', {class: 'xml-line xml-text'}, node.nodeValue.trim());
    }
    if (node.nodeType === Node.COMMENT_NODE) {
      return h('div', {class: 'xml-line xml-comment'}, '<!--' + node.nodeValue + '-->');
    }
    const kids = Array.from(node.childNodes).filter(significant);
    if (kids.length === 0) {
      const tag = startTag(node);
      tag[tag.length - 1] = h('span', {class: 'xml-punct'}, '/>');
      return h('div', {class: 'xml-line'}, tag);
    }
    if (kids.length === 1 && kids[0].nodeType === Node.TEXT_NODE) {
      return h('div', {class: 'xml-line'}, startTag(node),
        h('span', {class: 'xml-text'}, kids[0].nodeValue.trim()), endTag(node));
    }
    const body = h('div', {class: 'xml-children'});
    for (const k of kids) {
      const child = render(k, budget);
      if (child) body.appendChild(child);
    }
    return h('details', {class: 'xml-element', open: true},
      h('summary', null, startTag(node)), body, h('div', {class: 'xml-line xml-close'}, endTag(node)));
  }

  // Returns a node: the tree, or a notice when the text is not well-formed XML.
  function tree(text) {
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    const err = doc.getElementsByTagName('parsererror')[0];
    if (err || !doc.documentElement) {
      return h('div', {class: 'notice'},
        h('p', null, 'The stored document could not be shown as XML: ' + (err ? err.textContent.split('\n')[0] : 'empty')),
        h('pre', {class: 'xml-raw'}, text));
    }
    const budget = {left: MAX_NODES};
    const root = render(doc.documentElement, budget);
    const wrap = h('div', {class: 'xml-tree', id: 'xml-tree'}, root);
    if (budget.left < 0) wrap.appendChild(h('p', {class: 'notice'}, 'The document is too large to show in full.'));
    return wrap;
  }

  function setAllOpen(container, open) {
    for (const d of container.querySelectorAll('details.xml-element')) d.open = open;
  }

  CJ.xml = {tree: tree, setAllOpen: setAllOpen};
})(window.CJ);
