// Frame names as Pyroscope renders JFR frames: `<class symbol>.<method symbol>`, with the class
// in its internal form (`java/lang/Thread`) and, for native frames, the library as the class
// (`libjvm.so.JavaThread::run`); frame types change nothing. Symbols of classes the JVM generates
// at run time (lambdas, reflection accessors) and of libraries extracted to randomly named files
// carry per-run numbers: those are replaced by `_` so that profiles of different runs merge.

const REWRITES: [RegExp, string][] = [
  // jdk/internal/reflect/GeneratedMethodAccessor31
  [/^(jdk\/internal\/reflect\/GeneratedMethodAccessor)\d+$/, "$1_"],
  // App$$Lambda$14/0x0000000800c03000, Fib$$Lambda.0x00007ffa600c4da0, App$$Lambda$669
  [/^(.+\$\$Lambda)(?:\$?\d*[./](?:0x)?[\da-f]+|\d+)$/, "$1_"],
  // libzstd-jni-1.5.1-16931311898282279136.so, maybe under /tmp and deleted
  [/^(?:\.?\/tmp\/)?libzstd-jni-\d+\.\d+\.\d+-\d+\.so(?: \(deleted\))?$/, "libzstd-jni-_.so"],
  // ./tmp/libamazonCorrettoCryptoProvider109b39cf33c563eb.so,
  // ./tmp/amazonCorrettoCryptoProviderNativeLibraries.7382c2f79097f415/libcrypto.so (deleted)
  [
    /^(?:\.?\/tmp\/)?(?:lib)?amazonCorrettoCryptoProvider(?:NativeLibraries\.)?[0-9a-f]{16}(?:\/libcrypto|\/libamazonCorrettoCryptoProvider)?\.so(?: \(deleted\))?$/,
    "libamazonCorrettoCryptoProvider_.so",
  ],
  // The Pyroscope agent's own profiler library, extracted under a build-specific name.
  [/^(?:\.?\/tmp\/)?libasyncProfiler-(?:linux-arm64|linux-musl-x64|linux-x64|macos)-17b9a1d8156277a98ccc871afa9a8f69215f92\.so(?: \(deleted\))?$/, "libasyncProfiler-_.so"],
];

/** What every rewritten symbol contains: one test spares most symbols the five patterns. */
const CANDIDATE = /\$\$Lambda|GeneratedMethodAccessor|\.so/;

/** A class or method symbol with run-specific parts merged. */
function normalizeSymbol(symbol: string): string {
  if (!CANDIDATE.test(symbol)) return symbol;
  for (const [pattern, replacement] of REWRITES) {
    if (pattern.test(symbol)) symbol = symbol.replace(pattern, replacement);
  }
  return symbol;
}

export function frameName(classSymbol: string, methodSymbol: string): string {
  return `${normalizeSymbol(classSymbol)}.${normalizeSymbol(methodSymbol)}`;
}
