/* Loaded (via nb_ipywidgets_js in _config.yml) right before the vendored
 * RequireJS and ipywidgets html-manager, on pages with widgets only.
 * 1. Tell html-manager where its Font Awesome files are: next to embed-amd.js.
 *    Its bundles derive that folder from their RequireJS module URL, which by
 *    default resolves beside the page (a 404 in subfolders); the RequireJS
 *    config below (read by require.js when it loads) maps it to the vendor folder.
 * 2. The same config tells RequireJS where the module "anywidget" is: the AMD
 *    build of anywidget's front-end, vendored (tools/vendor_assets.sh) as
 *    vendor/anywidget/index.js. html-manager asks for it for every anywidget
 *    (paperlib.book.explorer); the URL is made from this script's own URL, so it
 *    works from file:// and served alike, on every page of the book.
 * 3. html-manager typesets widget text with the MathJax 2 API
 *    (MathJax.Hub.Queue); the book loads MathJax 3. Map that call onto
 *    MathJax 3's typesetPromise so rendering a widget raises no error. */
(function () {
  "use strict";
  var here = document.currentScript && document.currentScript.src;
  if (here) {
    var dist = new URL("vendor/html-manager/", here).href;
    window.__jupyter_widgets_assets_path__ = dist;
    var folder = dist.replace(/\/$/, "");
    /* the bundle defines @jupyter-widgets/{base,base7,controls,controls7,html-manager}
     * and @jupyter-widgets/html-manager/dist/libembed-amd: both prefixes -> folder */
    var anywidget = new URL("vendor/anywidget/index", here).href;
    window.require = { paths: { "@jupyter-widgets": folder,
                                "@jupyter-widgets/html-manager/dist": folder,
                                "anywidget": anywidget } };
  }
  function queue(job) {
    var node = job && job[2];
    var mj = window.MathJax;
    if (!mj || !mj.startup || !mj.startup.promise) { return; }
    mj.startup.promise
      .then(function () { return mj.typesetPromise ? mj.typesetPromise(node ? [node] : undefined) : null; })
      .catch(function (err) { console.warn("MathJax typeset of a widget failed", err); });
  }
  function install() {
    window.MathJax = window.MathJax || {};
    if (!window.MathJax.Hub) { window.MathJax.Hub = { Queue: queue }; }
  }
  install();  /* before MathJax 3 starts (window.MathJax is still its config) */
  document.addEventListener("DOMContentLoaded", install);  /* after it replaced the object */
})();
