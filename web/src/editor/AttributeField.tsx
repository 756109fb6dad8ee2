/** The input of one attribute group, by its kind (select, tree, radio, multi-select, number, date, text). */
import { useEffect, useId, useState } from "react";

import type { AttributeGroup } from "../api/types";

export function AttributeField({
  group,
  value,
  disabled,
  onChange,
}: {
  group: AttributeGroup;
  value: unknown;
  disabled: boolean;
  onChange: (value: unknown) => void;
}) {
  const options = group.options ?? [];
  /** a radio group's own name: two fields of one group on screen (a track's and a frame tag's) stay apart */
  const radioName = `${group.name}-${useId()}`;
  const title = `${group.name}${group.required ? " (required)" : ""}`;
  switch (group.kind) {
    case "select":
      return (
        <label className="field">
          {title}
          <select value={typeof value === "string" ? value : ""} disabled={disabled} onChange={(e) => onChange(e.target.value)}>
            <option value="">—</option>
            {options.map((option) => (
              <option key={option}>{option}</option>
            ))}
          </select>
        </label>
      );
    case "tree": {
      const current = Array.isArray(value) ? value.join("/") : typeof value === "string" ? value : "";
      return (
        <label className="field">
          {title}
          <select value={current} disabled={disabled} onChange={(e) => onChange(e.target.value ? e.target.value.split("/") : undefined)}>
            <option value="">—</option>
            {options.map((option) => (
              <option key={option} value={option}>
                {"\u00a0\u00a0".repeat(option.split("/").length - 1)}
                {option.split("/").pop()}
              </option>
            ))}
          </select>
        </label>
      );
    }
    case "radio":
      return (
        <fieldset className="field" disabled={disabled}>
          <legend>{title}</legend>
          {options.map((option) => (
            <label key={option} className="check">
              <input type="radio" name={radioName} checked={value === option} onChange={() => onChange(option)} />
              {option}
            </label>
          ))}
        </fieldset>
      );
    case "multi_select": {
      const chosen = Array.isArray(value) ? (value as string[]) : [];
      return (
        <fieldset className="field" disabled={disabled}>
          <legend>{title}</legend>
          {options.map((option) => (
            <label key={option} className="check">
              <input
                type="checkbox"
                checked={chosen.includes(option)}
                onChange={(e) => onChange(e.target.checked ? [...chosen, option] : chosen.filter((c) => c !== option))}
              />
              {option}
            </label>
          ))}
        </fieldset>
      );
    }
    case "number":
      return (
        <BufferedInput
          title={title}
          type="number"
          min={group.min ?? undefined}
          max={group.max ?? undefined}
          disabled={disabled}
          value={typeof value === "number" ? String(value) : ""}
          onCommit={(text) => onChange(text === "" ? undefined : Number(text))}
        />
      );
    case "date":
      return (
        <label className="field">
          {title}
          <input
            type="date"
            disabled={disabled}
            value={typeof value === "string" ? value : ""}
            onChange={(e) => onChange(e.target.value || undefined)}
          />
        </label>
      );
    default:
      return (
        <BufferedInput
          title={title}
          type="text"
          disabled={disabled}
          value={typeof value === "string" ? value : ""}
          onCommit={(text) => onChange(text || undefined)}
        />
      );
  }
}

/** A text or number input that records one undo step when left (or on Enter), not one per keystroke. */
function BufferedInput({
  title,
  type,
  value,
  disabled,
  min,
  max,
  onCommit,
}: {
  title: string;
  type: "text" | "number";
  value: string;
  disabled: boolean;
  min?: number;
  max?: number;
  onCommit: (value: string) => void;
}) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const commitText = () => {
    if (text !== value) onCommit(text);
  };
  return (
    <label className="field">
      {title}
      <input
        type={type}
        value={text}
        min={min}
        max={max}
        disabled={disabled}
        onChange={(e) => setText(e.target.value)}
        onBlur={commitText}
        onKeyDown={(e) => {
          if (e.key === "Enter") commitText();
        }}
      />
    </label>
  );
}
