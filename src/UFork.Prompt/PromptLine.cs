using System.Text;
using UFork.Hosting;

namespace UFork.Prompt;

/// <summary>
/// The line being typed at the bottom of the terminal, <c>ufork&gt; </c> and what follows it, and the one
/// lock under which everything is written to the terminal while it is shown: output goes above it and
/// the line is drawn again, intact, cursor and all. A line longer than the terminal scrolls sideways
/// instead of wrapping, so that it is always one row to clear and redraw.
/// </summary>
internal sealed class PromptLine
{
    public const string Prompt = "ufork> ";
    private const string ClearToEndOfLine = "\e[K";

    private readonly Lock _lock = new();
    private readonly StringBuilder _text = new();
    private int _cursor;
    private int _scroll;
    private bool _shown;

    public string Text
    {
        get { lock (_lock) return _text.ToString(); }
    }

    public int Cursor
    {
        get { lock (_lock) return _cursor; }
    }

    /// <summary>Runs <paramref name="write"/> with the prompt out of the way; it must end its output with a newline.</summary>
    public void WriteAbove(Action write)
    {
        lock (_lock)
        {
            var visible = IsVisible;
            if (visible)
                Console.Out.Write("\r" + ClearToEndOfLine);
            write();
            if (visible)
                Draw();
        }
    }

    public void WriteAbove(string text) => WriteAbove(() => Console.Out.WriteLine(text));

    /// <summary>Starts a new, empty line at the prompt.</summary>
    public void Show()
    {
        lock (_lock)
        {
            _text.Clear();
            _cursor = _scroll = 0;
            _shown = true;
            if (IsVisible)
                Draw();
        }
    }

    /// <summary>Draws the line again, as typed, after the terminal was someone else's (the job was stopped, or in the background).</summary>
    public void Redraw()
    {
        lock (_lock)
        {
            if (IsVisible)
                Draw();
        }
    }

    /// <summary>Leaves the line as typed and moves below it (Enter, Ctrl-C, Ctrl-D); output no longer goes around it.</summary>
    public void Finish()
    {
        lock (_lock)
        {
            var visible = IsVisible;
            _shown = false;
            if (visible)
                Console.Out.Write("\r\n");
        }
    }

    public void Insert(string text) => Edit(() =>
    {
        _text.Insert(_cursor, text);
        _cursor += text.Length;
    });

    public void Replace(string text) => Edit(() =>
    {
        _text.Clear().Append(text);
        _cursor = text.Length;
    });

    public void MoveTo(int position) => Edit(() => _cursor = Math.Clamp(position, 0, _text.Length));

    public void MoveBy(int characters) => Edit(() => _cursor = Math.Clamp(_cursor + characters, 0, _text.Length));

    /// <summary>Backspace.</summary>
    public void DeleteBeforeCursor() => Edit(() =>
    {
        if (_cursor == 0)
            return;
        _text.Remove(--_cursor, 1);
    });

    /// <summary>Delete.</summary>
    public void DeleteAtCursor() => Edit(() =>
    {
        if (_cursor < _text.Length)
            _text.Remove(_cursor, 1);
    });

    public void DeleteToStart() => Edit(() =>
    {
        _text.Remove(0, _cursor);
        _cursor = 0;
    });

    public void DeleteToEnd() => Edit(() => _text.Length = _cursor);

    private void Edit(Action change)
    {
        lock (_lock)
        {
            change();
            if (_shown)
                Draw();
        }
    }

    // In the background of the terminal the line is not drawn: the shell has the terminal (its prompt is
    // there), and worker output goes to it as any background job's would.
    private bool IsVisible => _shown && !Terminal.InBackground;

    private void Draw()
    {
        var room = Math.Max(TerminalWidth() - Prompt.Length - 1, 8); // the last column would wrap
        _scroll = Math.Min(_scroll, _text.Length);
        if (_cursor < _scroll)
            _scroll = _cursor;
        else if (_cursor > _scroll + room)
            _scroll = _cursor - room;
        var visible = _text.ToString(_scroll, Math.Min(room, _text.Length - _scroll));
        var back = _scroll + visible.Length - _cursor;
        Console.Out.Write("\r" + Prompt + visible + ClearToEndOfLine + (back > 0 ? $"\e[{back}D" : ""));
    }

    private static int TerminalWidth()
    {
        try
        {
            return Console.WindowWidth is > 0 and var width ? width : 80;
        }
        catch (IOException)
        {
            return 80;
        }
    }
}
