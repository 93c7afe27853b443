import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);
import{n as c,o as d,p as e,q as f}from"./chunk-I3NCND5M.js";import{b as a,c as b}from"./chunk-B26NRSHI.js";import"./chunk-74LJ5RS7.js";import"./chunk-67BG23Y2.js";export{a as ENCRYPTION_INPUTS,c as WRITE_CONFIG,b as encryptionSecrets,e as parseDecryptionInputs,d as parseEncryptionInputs,f as safeReason};
