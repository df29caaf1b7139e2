// The hover card of a frame: its name, self and total in the profile's unit with their share of the whole
// profile; for a diff both sides (each as a share of its own side) and the change of the total share.
import { formatChange, formatPercent, formatValue } from "./format";
import { relativeChange, type FlameModel } from "./model";

export interface TooltipProps {
  model: FlameModel;
  node: number;
  unit: string;
  /** Pointer position in viewport coordinates. */
  clientX: number;
  clientY: number;
}

const OFFSET = 14;
/** Room assumed for the card when deciding to flip it to the other side of the pointer, no measuring needed. */
const FLIP_WIDTH = 380;
const FLIP_HEIGHT = 140;

function Cell({ value, whole, unit }: { value: number; whole: number; unit: string }) {
  return (
    <td>
      {formatValue(value, unit)} <span class="fg-muted">({formatPercent(value, whole)})</span>
    </td>
  );
}

export function Tooltip({ model, node, unit, clientX, clientY }: TooltipProps) {
  const name = model.names[model.nameIdx[node]];
  const sides = model.diff;
  // Fixed positioning keeps the card inside the viewport whatever scroll container holds the graph.
  const style = {
    left: clientX + FLIP_WIDTH + OFFSET > window.innerWidth ? undefined : `${clientX + OFFSET}px`,
    right: clientX + FLIP_WIDTH + OFFSET > window.innerWidth ? `${window.innerWidth - clientX + OFFSET}px` : undefined,
    top: clientY + FLIP_HEIGHT + OFFSET > window.innerHeight ? undefined : `${clientY + OFFSET}px`,
    bottom: clientY + FLIP_HEIGHT + OFFSET > window.innerHeight ? `${window.innerHeight - clientY + OFFSET}px` : undefined,
  };
  return (
    <div class="fg-tooltip" role="tooltip" data-testid="flamegraph-tooltip" style={style}>
      <div class="fg-tooltip-name">{name}</div>
      {sides ? (
        <table>
          <thead>
            <tr>
              <th />
              <th>Baseline</th>
              <th>Comparison</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <th>Total</th>
              <Cell value={sides.leftTotal[node]} whole={sides.leftTicks} unit={unit} />
              <Cell value={sides.rightTotal[node]} whole={sides.rightTicks} unit={unit} />
            </tr>
            <tr>
              <th>Self</th>
              <Cell value={sides.leftSelf[node]} whole={sides.leftTicks} unit={unit} />
              <Cell value={sides.rightSelf[node]} whole={sides.rightTicks} unit={unit} />
            </tr>
            <tr>
              <th>Change</th>
              <td colSpan={2}>
                {formatChange(relativeChange(sides, sides.leftTotal[node], sides.rightTotal[node]))}
              </td>
            </tr>
          </tbody>
        </table>
      ) : (
        <table>
          <tbody>
            <tr>
              <th>Total</th>
              <Cell value={model.total[node]} whole={model.rootTotal} unit={unit} />
            </tr>
            <tr>
              <th>Self</th>
              <Cell value={model.self[node]} whole={model.rootTotal} unit={unit} />
            </tr>
          </tbody>
        </table>
      )}
    </div>
  );
}
