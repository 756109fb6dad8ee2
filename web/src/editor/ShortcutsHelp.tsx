/** The keyboard shortcuts overlay, from the same table that drives the key handling. */
import { Dialog } from "../components/common";
import { SHORTCUTS } from "./shortcuts";

export function ShortcutsHelp({ open, onClose, video = false }: { open: boolean; onClose: () => void; video?: boolean }) {
  return (
    <Dialog title="Keyboard shortcuts" open={open} onClose={onClose}>
      <table className="shortcuts">
        <tbody>
          {SHORTCUTS.filter((s) => (video ? !s.image : !s.video)).map((s) => (
            <tr key={s.keys}>
              <th scope="row">
                <kbd>{s.keys}</kbd>
              </th>
              <td>{s.description}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="hint">Double-click a vertex to delete it, or a polygon or line edge to add one. Hold Space and drag to pan.</p>
    </Dialog>
  );
}
