namespace UFork.Configuration;

/// <summary>
/// What Akka's HOCON parser lets through without a word: an unclosed <c>{</c> or <c>[</c>, a stray
/// <c>}</c> (after which it ignores the rest of the file), a quoted string left open, and the include
/// forms it does not know (<c>include file("x")</c> becomes a key). Checked on the text before it is parsed,
/// outside quoted strings and comments, so that the problem can be given with its line.
/// </summary>
internal static class HoconSyntax
{
    /// <summary>The first problem in <paramref name="text"/>, worded with its line, or null when there is none.</summary>
    public static string? FirstProblem(string text) => new Scanner(text).Run();

    private sealed class Scanner(string text)
    {
        private readonly Stack<(char Bracket, int Line)> _open = new();
        private int _position;
        private int _line = 1;
        // A key may start here: at the start of the file, of a line, or after '{' or ','.
        private bool _atKeyStart = true;

        public string? Run()
        {
            while (_position < text.Length)
            {
                var problem = Step();
                if (problem is not null)
                    return problem;
            }
            return _open.TryPeek(out var unclosed) ? $"line {unclosed.Line}: '{unclosed.Bracket}' is never closed" : null;
        }

        private string? Step()
        {
            var c = text[_position];
            if (c == '#' || At("//"))
            {
                SkipToEndOfLine();
                return null;
            }
            if (At("\"\"\""))
                return SkipMultiLineString();
            if (c == '"')
                return SkipString();
            if (_atKeyStart && AtWord("include"))
                return CheckInclude();
            _position++;
            switch (c)
            {
                case '\n':
                    _line++;
                    _atKeyStart = true;
                    return null;
                case '{' or '[':
                    _open.Push((c, _line));
                    _atKeyStart = c == '{';
                    return null;
                case '}' or ']':
                    return Close(c);
                case ',':
                    _atKeyStart = true;
                    return null;
                default:
                    _atKeyStart &= char.IsWhiteSpace(c);
                    return null;
            }
        }

        private string? Close(char bracket)
        {
            var opening = bracket == '}' ? '{' : '[';
            if (!_open.TryPop(out var open))
                return $"line {_line}: '{bracket}' closes nothing";
            if (open.Bracket != opening)
                return $"line {_line}: '{bracket}' closes the '{open.Bracket}' of line {open.Line}";
            _atKeyStart = false;
            return null;
        }

        private string? SkipString()
        {
            var start = _line;
            for (_position++; _position < text.Length; _position++)
            {
                switch (text[_position])
                {
                    case '\\':
                        _position++;
                        break;
                    case '"':
                        _position++;
                        _atKeyStart = false;
                        return null;
                    case '\n':
                        return $"line {start}: a quoted string is not closed on its line";
                }
            }
            return $"line {start}: a quoted string is not closed on its line";
        }

        private string? SkipMultiLineString()
        {
            var start = _line;
            var end = text.IndexOf("\"\"\"", _position + 3, StringComparison.Ordinal);
            if (end < 0)
                return $"line {start}: a \"\"\" string is never closed";
            // Quotes right after the closing """ belong to the string.
            for (end += 3; end < text.Length && text[end] == '"'; end++)
            {
            }
            _line += text.AsSpan(_position, end - _position).Count('\n');
            _position = end;
            _atKeyStart = false;
            return null;
        }

        /// <summary>Akka knows only <c>include "file"</c>; any other form silently turns into a key.</summary>
        private string? CheckInclude()
        {
            var line = _line;
            _position += "include".Length;
            while (_position < text.Length && text[_position] is ' ' or '\t')
                _position++;
            if (_position < text.Length && text[_position] == '"')
                return null;
            return $"line {line}: include takes a quoted file name, as in include \"other.conf\" (file(), required(), url() and classpath() are not supported)";
        }

        private void SkipToEndOfLine()
        {
            var end = text.IndexOf('\n', _position);
            _position = end < 0 ? text.Length : end;
        }

        private bool At(string token) => string.CompareOrdinal(text, _position, token, 0, token.Length) == 0;

        private bool AtWord(string word) =>
            At(word) && (_position + word.Length == text.Length || char.IsWhiteSpace(text[_position + word.Length]));
    }
}
