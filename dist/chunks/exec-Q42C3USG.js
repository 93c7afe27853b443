import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);
import{a,b}from"./chunk-CDU4D4H2.js";import"./chunk-QKON2FTV.js";import"./chunk-67BG23Y2.js";export{a as exec,b as getExecOutput};
