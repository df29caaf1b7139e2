// Public surface of the flame graph package: the two components, their data types and the value formatter.
export { FlameGraph, type FlameGraphProps } from "./FlameGraph";
export { TopTable, type TopTableProps, type SortKey } from "./TopTable";
export { formatValue, formatPercent } from "./format";
export type { FlameGraphData, FlameGraphDiffData } from "./model";
export type { ThemeName } from "./colors";
