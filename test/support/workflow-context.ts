/**
 * GitHub Actions expressions (`${{ … }}`) for tests: a tokenizer and evaluator of the subset the
 * project's workflows use — literals, context property access (`a.b-c`, `a['x']`), `!`, `==`,
 * `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||` (both return an operand, as GitHub's do), parentheses and
 * the functions format, contains, startsWith, endsWith, join, toJSON, fromJSON, success, always,
 * failure, cancelled.
 *
 * Stricter than the runner on purpose: a property that the context does not have is an error (the
 * runner yields null), so a misspelt `inputs.*`, `secrets.*`, `steps.*` or `needs.*` fails a test.
 * A context value that is legitimately empty must be present as null or ''.
 */

export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };
export type Context = Record<string, Value>;

export class ExpressionError extends Error {}

type Token =
  | { kind: 'num'; value: number }
  | { kind: 'str'; value: string }
  | { kind: 'ident'; value: string }
  | { kind: 'op'; value: string };

const OPERATORS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')', '[', ']', '.', ','];

export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= expr.length) throw new ExpressionError(`unterminated string in: ${expr}`);
        if (expr[i] === "'") {
          if (expr[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += expr[i];
        i++;
      }
      tokens.push({ kind: 'str', value });
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(expr[i + 1] ?? ''))) {
      const m = /^-?(0x[0-9a-fA-F]+|[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)/.exec(expr.slice(i));
      if (!m) throw new ExpressionError(`bad number in: ${expr}`);
      tokens.push({ kind: 'num', value: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(expr.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'ident', value: m[0] });
      i += m[0].length;
    } else if (c === '*') {
      tokens.push({ kind: 'op', value: '*' });
      i++;
    } else {
      const op = OPERATORS.find((o) => expr.startsWith(o, i));
      if (!op) throw new ExpressionError(`unexpected '${c}' in: ${expr}`);
      tokens.push({ kind: 'op', value: op });
      i += op.length;
    }
  }
  return tokens;
}

/** Parsed expression (evaluated lazily so `&&`/`||` short-circuit as GitHub's do). */
type Node =
  | { type: 'lit'; value: Value }
  | { type: 'ctx'; name: string }
  | { type: 'prop'; object: Node; key: Node }
  | { type: 'call'; name: string; args: Node[] }
  | { type: 'not'; operand: Node }
  | { type: 'bin'; op: string; left: Node; right: Node };

export function parseExpression(expr: string): Node {
  const tokens = tokenize(expr);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const isOp = (value: string): boolean => {
    const t = peek();
    return t?.kind === 'op' && t.value === value;
  };
  const expectOp = (value: string): void => {
    if (!isOp(value)) throw new ExpressionError(`expected '${value}' at token ${pos} in: ${expr}`);
    pos++;
  };
  const binary = (next: () => Node, ops: string[]) => (): Node => {
    let left = next();
    for (;;) {
      const t = peek();
      if (t?.kind !== 'op' || !ops.includes(t.value)) return left;
      pos++;
      left = { type: 'bin', op: t.value, left, right: next() };
    }
  };
  const primary = (): Node => {
    const t = peek();
    if (!t) throw new ExpressionError(`unexpected end of: ${expr}`);
    pos++;
    if (t.kind === 'num' || t.kind === 'str') return { type: 'lit', value: t.value };
    if (t.kind === 'op' && t.value === '(') {
      const inner = orExpr();
      expectOp(')');
      return inner;
    }
    if (t.kind === 'ident') {
      if (t.value === 'true' || t.value === 'false') return { type: 'lit', value: t.value === 'true' };
      if (t.value === 'null') return { type: 'lit', value: null };
      if (isOp('(')) {
        pos++;
        const args: Node[] = [];
        if (!isOp(')')) {
          for (;;) {
            args.push(orExpr());
            if (isOp(',')) {
              pos++;
              continue;
            }
            break;
          }
        }
        expectOp(')');
        return { type: 'call', name: t.value.toLowerCase(), args };
      }
      return { type: 'ctx', name: t.value };
    }
    throw new ExpressionError(`unexpected '${String(t.value)}' in: ${expr}`);
  };
  const postfix = (): Node => {
    let node = primary();
    for (;;) {
      if (isOp('.')) {
        pos++;
        const t = peek();
        if (t?.kind === 'ident') {
          pos++;
          node = { type: 'prop', object: node, key: { type: 'lit', value: t.value } };
        } else if (t?.kind === 'op' && t.value === '*') {
          throw new ExpressionError(`object filters (.*) are not supported by this evaluator: ${expr}`);
        } else {
          throw new ExpressionError(`expected a property name after '.' in: ${expr}`);
        }
      } else if (isOp('[')) {
        pos++;
        const key = orExpr();
        expectOp(']');
        node = { type: 'prop', object: node, key };
      } else {
        return node;
      }
    }
  };
  const unary = (): Node => {
    if (isOp('!')) {
      pos++;
      return { type: 'not', operand: unary() };
    }
    return postfix();
  };
  const comparison = binary(unary, ['==', '!=', '<', '<=', '>', '>=']);
  const andExpr = binary(comparison, ['&&']);
  const orExpr = binary(andExpr, ['||']);
  const node = orExpr();
  if (pos !== tokens.length) throw new ExpressionError(`unexpected '${String(tokens[pos]?.value)}' in: ${expr}`);
  return node;
}

export function truthy(value: Value): boolean {
  return !(value === null || value === false || value === 0 || value === '' || Number.isNaN(value));
}

/** GitHub's conversion of a value to a string (in `${{ }}` interpolation and format()). */
export function toText(value: Value): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  return JSON.stringify(value, null, 2);
}

function toNumber(value: Value): number {
  if (value === null) return 0;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return value.trim() === '' ? 0 : Number(value);
  return NaN;
}

function compare(op: string, a: Value, b: Value): boolean {
  if (typeof a === 'string' && typeof b === 'string') {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    if (op === '==') return x === y;
    if (op === '!=') return x !== y;
    return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
  }
  if ((typeof a === 'object' && a !== null) || (typeof b === 'object' && b !== null)) {
    if (op === '==') return a === b;
    if (op === '!=') return a !== b;
    return false;
  }
  const x = toNumber(a);
  const y = toNumber(b);
  switch (op) {
    case '==':
      return x === y;
    case '!=':
      return x !== y;
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    default:
      return x >= y;
  }
}

function formatString(template: string, args: Value[]): string {
  return template.replace(/\{\{|\}\}|\{(\d+)\}/g, (match, index: string | undefined) => {
    if (match === '{{') return '{';
    if (match === '}}') return '}';
    const i = Number(index);
    if (i >= args.length) throw new ExpressionError(`format(): no argument {${i}} in '${template}'`);
    return toText(args[i] as Value);
  });
}

/** Status of the steps/jobs so far, for success(), failure(), always(), cancelled(). */
export interface Status {
  failed: boolean;
}

function evaluateNode(node: Node, ctx: Context, status: Status, source: string): Value {
  switch (node.type) {
    case 'lit':
      return node.value;
    case 'ctx':
      if (!(node.name in ctx)) throw new ExpressionError(`unknown context '${node.name}' in: ${source}`);
      return ctx[node.name] as Value;
    case 'prop': {
      const object = evaluateNode(node.object, ctx, status, source);
      const key = evaluateNode(node.key, ctx, status, source);
      if (object === null || typeof object !== 'object') {
        throw new ExpressionError(`cannot read '${toText(key)}' of ${JSON.stringify(object)} in: ${source}`);
      }
      if (Array.isArray(object)) {
        const value = object[toNumber(key)];
        if (value === undefined) throw new ExpressionError(`no element ${toText(key)} in: ${source}`);
        return value;
      }
      const name = toText(key);
      const found = Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase());
      if (found === undefined) {
        throw new ExpressionError(
          `'${name}' is not there (have: ${Object.keys(object).join(', ') || 'nothing'}) in: ${source}`,
        );
      }
      return object[found] as Value;
    }
    case 'not':
      return !truthy(evaluateNode(node.operand, ctx, status, source));
    case 'bin': {
      const left = evaluateNode(node.left, ctx, status, source);
      if (node.op === '&&') return truthy(left) ? evaluateNode(node.right, ctx, status, source) : left;
      if (node.op === '||') return truthy(left) ? left : evaluateNode(node.right, ctx, status, source);
      return compare(node.op, left, evaluateNode(node.right, ctx, status, source));
    }
    case 'call': {
      const args = node.args.map((a) => evaluateNode(a, ctx, status, source));
      const text = (i: number) => toText(args[i] ?? null);
      switch (node.name) {
        case 'format':
          return formatString(text(0), args.slice(1));
        case 'contains': {
          const hay = args[0] ?? null;
          if (Array.isArray(hay)) return hay.some((v) => compare('==', v, args[1] ?? null));
          return text(0).toLowerCase().includes(text(1).toLowerCase());
        }
        case 'startswith':
          return text(0).toLowerCase().startsWith(text(1).toLowerCase());
        case 'endswith':
          return text(0).toLowerCase().endsWith(text(1).toLowerCase());
        case 'join': {
          const list = args[0] ?? null;
          const sep = args.length > 1 ? text(1) : ',';
          return Array.isArray(list) ? list.map(toText).join(sep) : toText(list);
        }
        case 'tojson':
          return JSON.stringify(args[0] ?? null, null, 2);
        case 'fromjson':
          return JSON.parse(text(0)) as Value;
        case 'success':
          return !status.failed;
        case 'failure':
          return status.failed;
        case 'always':
          return true;
        case 'cancelled':
          return false;
        default:
          throw new ExpressionError(`unknown function ${node.name}() in: ${source}`);
      }
    }
  }
}

export function evaluate(expr: string, ctx: Context, status: Status = { failed: false }): Value {
  return evaluateNode(parseExpression(expr), ctx, status, expr);
}

/** The expressions inside `${{ … }}` in a text, in order. */
export function expressionsIn(text: string): string[] {
  const found: string[] = [];
  const re = /\$\{\{([\s\S]*?)\}\}/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) found.push((m[1] as string).trim());
  return found;
}

/**
 * A YAML scalar as text: a string as it is, a number or boolean as String() writes it. A mapping or
 * a sequence is not a scalar; it shows as its JSON (not as "[object Object]") where a workflow
 * wrongly puts one.
 */
export function scalarText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/**
 * Replaces every `${{ … }}` in a YAML scalar with its value as text. Throws ExpressionError for
 * anything that does not resolve, and when a `${{` is left over (an unterminated expression).
 */
export function interpolate(value: unknown, ctx: Context): string {
  if (value === null || value === undefined) return '';
  const text = scalarText(value);
  const out = text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_m, expr: string) => toText(evaluate(expr.trim(), ctx)));
  if (text.replace(/\$\{\{([\s\S]*?)\}\}/g, '').includes('${{'))
    throw new ExpressionError(`unterminated \${{ in: ${text}`);
  return out;
}

/** Evaluates an `if:` condition (a bare expression or one `${{ }}`); absent = success(). */
export function condition(value: unknown, ctx: Context, status: Status): boolean {
  if (value === undefined || value === null) return !status.failed;
  if (typeof value === 'boolean') return value && !status.failed;
  let text = scalarText(value).trim();
  const whole = /^\$\{\{([\s\S]*)\}\}$/.exec(text);
  if (whole && !(whole[1] as string).includes('}}')) text = (whole[1] as string).trim();
  const usesStatus = /\b(success|failure|always|cancelled)\s*\(/i.test(text);
  const result = truthy(evaluate(text, ctx, status));
  return usesStatus ? result : result && !status.failed;
}
