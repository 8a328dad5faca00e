namespace UFork.Prompt;

/// <summary>How a line at the prompt ended.</summary>
internal enum LineEnd
{
    Enter,
    /// <summary>Ctrl-D on an empty line.</summary>
    EndOfInput,
    /// <summary>Ctrl-C read as a key: a terminal that sends no SIGINT (ISIG off, as some REPLs leave it).</summary>
    Interrupt,
    /// <summary>The prompt was closed from outside (a signal, the arbiter stopping).</summary>
    Closed,
}

/// <summary>
/// Reads one line at a time into a <see cref="PromptLine"/>: arrows, Home/End and their Ctrl-A/E/B/F
/// twins, Backspace/Delete, Ctrl-U/K, history on Up/Down, and Tab completion of command names.
/// </summary>
internal sealed class LineEditor(PromptLine line, TerminalKeys keys, IReadOnlyList<string> commandNames)
{
    private readonly List<string> _history = [];

    public (LineEnd End, string Text) ReadLine()
    {
        if (keys.IsClosed)
            return (LineEnd.Closed, "");
        line.Show();
        var recalled = _history.Count; // == _history.Count: the line being typed, kept in draft
        var draft = "";
        while (keys.Next() is { } key)
        {
            var control = key.Modifiers.HasFlag(ConsoleModifiers.Control);
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    var text = line.Text;
                    line.Finish();
                    Remember(text);
                    return (LineEnd.Enter, text);
                case ConsoleKey.C when control:
                    line.Finish();
                    return (LineEnd.Interrupt, line.Text);
                case ConsoleKey.D when control:
                    if (line.Text.Length == 0)
                    {
                        line.Finish();
                        return (LineEnd.EndOfInput, "");
                    }
                    line.DeleteAtCursor();
                    break;
                case ConsoleKey.LeftArrow:
                case ConsoleKey.B when control:
                    line.MoveBy(-1);
                    break;
                case ConsoleKey.RightArrow:
                case ConsoleKey.F when control:
                    line.MoveBy(1);
                    break;
                case ConsoleKey.Home:
                case ConsoleKey.A when control:
                    line.MoveTo(0);
                    break;
                case ConsoleKey.End:
                case ConsoleKey.E when control:
                    line.MoveTo(int.MaxValue);
                    break;
                case ConsoleKey.U when control:
                    line.DeleteToStart();
                    break;
                case ConsoleKey.K when control:
                    line.DeleteToEnd();
                    break;
                case ConsoleKey.UpArrow:
                case ConsoleKey.P when control:
                    if (recalled == 0)
                        break;
                    if (recalled == _history.Count)
                        draft = line.Text;
                    line.Replace(_history[--recalled]);
                    break;
                case ConsoleKey.DownArrow:
                case ConsoleKey.N when control:
                    if (recalled == _history.Count)
                        break;
                    line.Replace(++recalled == _history.Count ? draft : _history[recalled]);
                    break;
                case ConsoleKey.Tab:
                    Complete();
                    break;
                case ConsoleKey.Backspace:
                    line.DeleteBeforeCursor();
                    break;
                case ConsoleKey.Delete:
                    line.DeleteAtCursor();
                    break;
                default:
                    if (!char.IsControl(key.KeyChar))
                        line.Insert(key.KeyChar.ToString());
                    break;
            }
        }
        line.Finish();
        return (LineEnd.Closed, "");
    }

    private void Remember(string text)
    {
        if (!string.IsNullOrWhiteSpace(text) && (_history.Count == 0 || _history[^1] != text))
            _history.Add(text);
    }

    /// <summary>Completes the command name before the cursor, or lists the candidates when there is a choice.</summary>
    private void Complete()
    {
        var typed = line.Text[..line.Cursor];
        if (typed.Contains(' '))
            return;
        var candidates = commandNames.Where(name => name.StartsWith(typed, StringComparison.Ordinal)).ToList();
        if (candidates.Count == 1)
            line.Insert(candidates[0][typed.Length..] + " ");
        else if (candidates.Count > 1)
        {
            var common = candidates.Aggregate((a, b) => a[..a.Zip(b).TakeWhile(pair => pair.First == pair.Second).Count()]);
            if (common.Length > typed.Length)
                line.Insert(common[typed.Length..]);
            else
                line.WriteAbove(string.Join("  ", candidates));
        }
    }
}
