// Render the math that pymdownx.arithmatex (generic mode) leaves as \( \) and \[ \] in
// .arithmatex elements. KaTeX itself is served from assets/katex/ (see hooks/assets.py).
document$.subscribe(({ body }) => {
  body.querySelectorAll(".arithmatex").forEach((el) => {
    renderMathInElement(el, {
      delimiters: [
        { left: "\\[", right: "\\]", display: true },
        { left: "\\(", right: "\\)", display: false },
      ],
      throwOnError: false,
    });
  });
});
