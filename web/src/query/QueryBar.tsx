import { type FormEvent, type KeyboardEvent, useEffect, useId, useLayoutEffect, useMemo, useRef, useState } from "react";

import { ApiError } from "../api/client";
import { type Completion, type Vocabulary, complete, offsetOf } from "./complete";

interface QueryBarProps {
  value: string;
  vocabulary: Vocabulary;
  /** the API's answer to the last query: a 400 `invalid_query` is shown at its position */
  error: unknown;
  onSubmit: (query: string) => void;
}

interface Located {
  start: number;
  end: number;
  message: string;
  hint: string | null;
}

/** Where a query error points (line/column from the API's details) and what to say about it. */
export function locateError(query: string, error: unknown): Located | null {
  if (!(error instanceof ApiError) || error.code !== "invalid_query") {
    return null;
  }
  const { line, column, token, suggestion } = error.details as {
    line?: number;
    column?: number;
    token?: string | null;
    suggestion?: string | null;
  };
  const start = typeof line === "number" && typeof column === "number" ? offsetOf(query, line, column) : 0;
  const length = typeof token === "string" && token.length > 0 && !token.startsWith("<") ? token.length : 1;
  const end = typeof line === "number" ? Math.min(query.length, start + length) : query.length;
  // the API's message already names what was expected; a suggestion it may only carry in the details
  const hint = suggestion && !error.message.includes(suggestion) ? `Did you mean ${suggestion}?` : null;
  return { start, end, message: error.message, hint };
}

export function QueryBar({ value, vocabulary, error, onSubmit }: QueryBarProps) {
  const [text, setText] = useState(value);
  const [completion, setCompletion] = useState<Completion | null>(null);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const listId = useId();
  const errorId = useId();
  useEffect(() => setText(value), [value]);
  const located = useMemo(() => (text === value ? locateError(value, error) : null), [text, value, error]);

  // Put the caret where the server says the problem is.
  useEffect(() => {
    if (located && input.current && document.activeElement !== input.current) {
      input.current.setSelectionRange(located.start, located.end);
    }
  }, [located]);

  // The caret goes after the accepted suggestion before the next key press is handled (a layout effect runs
  // right after React commits the new text, before the browser dispatches further input).
  const caretAfterAccept = useRef<number | null>(null);
  useLayoutEffect(() => {
    if (caretAfterAccept.current !== null && input.current) {
      input.current.setSelectionRange(caretAfterAccept.current, caretAfterAccept.current);
      caretAfterAccept.current = null;
    }
  }, [text]);

  function suggest(nextText: string, cursor: number) {
    const next = complete(nextText, cursor, vocabulary);
    setCompletion(next.options.length > 0 ? next : null);
    setActive(0);
  }

  function accept(index: number) {
    const option = completion?.options[index];
    if (!completion || !option) {
      return;
    }
    const rest = text.slice(completion.to);
    const space = option.apply.endsWith(".") || option.apply.endsWith("[") || rest.startsWith(" ") ? "" : " ";
    const insert = option.apply + space;
    const finalText = text.slice(0, completion.from) + insert + rest;
    const caret = completion.from + insert.length;
    caretAfterAccept.current = caret;
    setText(finalText);
    suggest(finalText, caret);
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    const count = completion?.options.length ?? 0;
    if (event.key === "ArrowDown" && count > 0) {
      event.preventDefault();
      setActive((index) => (index + 1) % count);
    } else if (event.key === "ArrowUp" && count > 0) {
      event.preventDefault();
      setActive((index) => (index - 1 + count) % count);
    } else if ((event.key === "Tab" || event.key === "Enter") && count > 0) {
      event.preventDefault();
      accept(active);
    } else if (event.key === "Escape") {
      setCompletion(null);
    } else if (event.key === " " && event.ctrlKey) {
      event.preventDefault();
      suggest(text, event.currentTarget.selectionStart ?? text.length);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    setCompletion(null);
    onSubmit(text.trim());
  }

  const open = completion !== null;
  return (
    <form className="querybar" onSubmit={submit} role="search">
      <div className="query-input">
        <input
          ref={input}
          type="text"
          role="combobox"
          aria-label="Query"
          aria-expanded={open}
          aria-controls={listId}
          aria-autocomplete="list"
          aria-activedescendant={open ? `${listId}-${active}` : undefined}
          aria-invalid={located ? true : undefined}
          aria-describedby={located ? errorId : undefined}
          spellCheck={false}
          autoComplete="off"
          placeholder='labels.car >= 1 and attributes.occluded = "no"'
          value={text}
          onChange={(event) => {
            setText(event.target.value);
            suggest(event.target.value, event.target.selectionStart ?? event.target.value.length);
          }}
          onKeyDown={onKeyDown}
          onClick={(event) => suggest(text, event.currentTarget.selectionStart ?? text.length)}
          onBlur={() => setTimeout(() => setCompletion(null), 150)}
        />
        {open ? (
          <ul id={listId} role="listbox" aria-label="Suggestions" className="suggestions">
            {completion.options.map((option, index) => (
              <li
                key={`${option.kind}:${option.label}`}
                id={`${listId}-${index}`}
                role="option"
                aria-selected={index === active}
                onMouseDown={(event) => {
                  event.preventDefault();
                  accept(index);
                }}
              >
                <span>{option.label}</span>
                {option.detail ? <small>{option.detail}</small> : null}
              </li>
            ))}
          </ul>
        ) : null}
      </div>
      <button type="submit" className="primary">
        Run query
      </button>
      {value ? (
        <button type="button" onClick={() => onSubmit("")}>
          Clear
        </button>
      ) : null}
      {located ? (
        <div className="query-error" id={errorId} role="alert">
          <code aria-label="Where the query goes wrong">
            {value.slice(0, located.start)}
            <mark>{value.slice(located.start, located.end) || " "}</mark>
            {value.slice(located.end)}
          </code>
          <p>
            {located.message} {located.hint}
          </p>
        </div>
      ) : null}
    </form>
  );
}
