import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);
import{n as c,o as d,p as e,q as f}from"./chunk-C7AOSGVL.js";import{b as a,c as b}from"./chunk-B3JDK7BZ.js";import"./chunk-74LJ5RS7.js";import"./chunk-67BG23Y2.js";export{a as ENCRYPTION_INPUTS,c as WRITE_CONFIG,b as encryptionSecrets,e as parseDecryptionInputs,d as parseEncryptionInputs,f as safeReason};
