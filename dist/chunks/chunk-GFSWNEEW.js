import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);
import{j as r}from"./chunk-IEYZXRJT.js";import{a as e}from"./chunk-XGVT7AOI.js";var t={aeadProtect:!1,preferredSymmetricAlgorithm:e.symmetric.aes256,preferredCompressionAlgorithm:e.compression.uncompressed};function i(p){return r(p).split(`
`)[0].replace(/[A-Za-z0-9+/=]{24,}/g,"\u2026").replace(/\.$/,"").slice(0,200)}export{t as a,i as b};
