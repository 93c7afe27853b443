import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);
import{d as a,e as b}from"./chunk-XYTUJLN3.js";import"./chunk-67BG23Y2.js";export{a as exec,b as getExecOutput};
