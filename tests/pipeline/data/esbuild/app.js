import{greet as r}from"./greet.js";import{shout as e}from"./shout.js";var n=r("world");function l(t){let o=e(n);return console.log(o,t),o.length}export{l as main};
//# sourceMappingURL=app.js.map
