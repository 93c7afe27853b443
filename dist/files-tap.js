import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);
import{q as e}from"./chunks/chunk-PV6BRO4X.js";import"./chunks/chunk-3IWUB3ZO.js";import"./chunks/chunk-PUJG64OT.js";import"./chunks/chunk-FOAQWAQY.js";import"./chunks/chunk-IEYZXRJT.js";import"./chunks/chunk-67BG23Y2.js";process.exitCode=e();
