using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using UFork.Hosting;
using UFork.Output;
using UFork.Supervision;
using UFork.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace UFork.Tests;

/// <summary>How the arbiter's lines look: times, JSON for shippers, colours only on a terminal, its own lines in order with its workers'.</summary>
public sealed partial class LogFormatTests(ITestOutputHelper output) : ArbiterTestKit(output)
{
    private static string Written(LineFormat format, Action<TaggedLineWriter> write)
    {
        using var buffer = new MemoryStream();
        var writer = new TaggedLineWriter(buffer, format);
        write(writer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static ReadOnlyMemory<byte>[] Bytes(params string[] lines) => [.. lines.Select(l => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(l))];

    [Fact]
    public void Every_text_line_starts_with_the_local_time_to_the_millisecond_with_its_offset()
    {
        var before = DateTimeOffset.Now;
        var text = Written(LineFormat.PlainText, w =>
        {
            w.WriteLine("[ufork] w0: started pid 4711");
            w.WriteLines(0, 4711, OutputStream.Stdout, Bytes("hello"));
            w.WriteLines(0, 4711, OutputStream.Stderr, Bytes("oops"));
        });
        var after = DateTimeOffset.Now;

        var lines = text.Split('\n')[..^1];
        Assert.Equal(3, lines.Length);
        foreach (var line in lines)
        {
            var match = LineFormat.TextLine().Match(line);
            Assert.True(match.Success, $"not a text line: {line}");
            var time = DateTimeOffset.ParseExact(match.Groups["time"].Value, "yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);
            Assert.Equal(TimeZoneInfo.Local.GetUtcOffset(time), time.Offset);
            Assert.InRange(time, before.AddMilliseconds(-1), after);
        }
        Assert.Equal(["[ufork] w0: started pid 4711", "[w0 4711] hello", "[w0 4711 err] oops"], lines.Select(LogLines.WithoutTime));
    }

    [Fact]
    public void Json_is_one_object_a_line_with_time_source_slot_pid_stream_level_and_message_even_for_bytes_that_are_not_UTF8()
    {
        var json = new LineFormat(LogFormat.Json, colour: true); // colour is for text only
        var text = Written(json, w =>
        {
            w.WriteLines(2, 4711, OutputStream.Stdout, [new byte[] { (byte)'o', (byte)'k', 0xff, (byte)'"', 0xc3, 0xa9 }]);
            w.WriteLines(2, 4711, OutputStream.Stderr, Bytes("a \"quoted\"\ttab"));
            w.WriteLine(LineFormat.ArbiterLine(Akka.Event.LogLevel.WarningLevel, "w2: pid 4711 sent no heartbeat"));
            w.WriteLine(LineFormat.ArbiterLine(Akka.Event.LogLevel.InfoLevel, "all workers stopped"));
        });

        var lines = text.Split('\n')[..^1];
        Assert.Equal(4, lines.Length);
        Assert.DoesNotContain('\e', text);
        var objects = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        foreach (var o in objects)
        {
            Assert.Equal(["time", "source", "slot", "pid", "stream", "level", "message"], o.EnumerateObject().Select(p => p.Name));
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$", o.GetProperty("time").GetString());
        }
        Assert.Equal(("worker", 2, 4711, "stdout", "info", "ok\\xff\"é"), Fields(objects[0]));
        Assert.Equal(("worker", 2, 4711, "stderr", "error", "a \"quoted\"\ttab"), Fields(objects[1]));
        Assert.Equal(("arbiter", 2, Environment.ProcessId, "stdout", "warning", "w2: pid 4711 sent no heartbeat"), Fields(objects[2]));
        Assert.Equal(JsonValueKind.Null, objects[3].GetProperty("slot").ValueKind);
        Assert.Equal("all workers stopped", objects[3].GetProperty("message").GetString());
    }

    private static (string?, int, int, string?, string?, string?) Fields(JsonElement o) => (
        o.GetProperty("source").GetString(), o.GetProperty("slot").GetInt32(), o.GetProperty("pid").GetInt32(),
        o.GetProperty("stream").GetString(), o.GetProperty("level").GetString(), o.GetProperty("message").GetString());

    [Theory]
    [InlineData(null, "xterm", true, true)]
    [InlineData("", "xterm", true, true)] // NO_COLOR counts only when it has a value
    [InlineData("1", "xterm", true, false)]
    [InlineData("0", "xterm", true, false)] // any value, as no-color.org says
    [InlineData(null, "xterm", false, false)] // a pipe or a file
    [InlineData(null, "dumb", true, false)]
    public void Colour_only_on_a_terminal_and_never_when_NO_COLOR_is_set(string? noColor, string term, bool toTerminal, bool colour) =>
        Assert.Equal(colour, LineFormat.WantsColour(noColor, term, toTerminal));

    [Fact]
    public void With_colour_the_tag_is_coloured_by_slot_warnings_yellow_errors_red_and_without_it_no_escape_at_all()
    {
        var coloured = new LineFormat(LogFormat.Text, colour: true);
        var text = Written(coloured, w =>
        {
            w.WriteLines(0, 10, OutputStream.Stdout, Bytes("zero"));
            w.WriteLines(1, 11, OutputStream.Stdout, Bytes("one"));
            w.WriteLine("[ufork] warning: careful");
            w.WriteLine("[ufork] error: broken");
        });
        var lines = text.Split('\n');
        Assert.Contains("\e[36m[w0 10]\e[0m zero", lines[0]);
        Assert.Contains("\e[32m[w1 11]\e[0m one", lines[1]);
        Assert.Contains("\e[33mwarning: careful\e[0m", lines[2]);
        Assert.Contains("\e[31merror: broken\e[0m", lines[3]);
        Assert.Equal(["[w0 10] zero", "[w1 11] one", "[ufork] warning: careful", "[ufork] error: broken", ""],
            lines.Select(l => LogLines.WithoutTime(AnsiEscape().Replace(l, ""))));

        Assert.DoesNotContain('\e', Written(LineFormat.PlainText, w =>
        {
            w.WriteLines(0, 10, OutputStream.Stdout, Bytes("zero"));
            w.WriteLine("[ufork] error: broken");
        }));
    }

    [Fact]
    public void The_log_file_gets_no_colour_and_its_own_format()
    {
        using var directory = new TempDirectory();
        var path = directory.File("ufork.log");
        using (var sink = new RotatingFileSink(path, maxSize: 1 << 20, files: 2, LogFormat.Json))
        {
            sink.WriteLines(0, 10, OutputStream.Stdout, Bytes("zero"));
            sink.WriteLine("[ufork] error: broken");
        }
        var lines = File.ReadAllLines(path);
        Assert.Equal(["zero", "broken"], lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("message").GetString()));
        Assert.DoesNotContain(lines, l => l.Contains('\e'));
    }

    [Fact]
    public async Task A_workers_started_line_comes_before_its_first_line_even_when_it_prints_at_once()
    {
        // Each worker prints at once and exits, so that its first line races the arbiter's "started"; it
        // crash-loops without backoff for a bounded number of starts.
        var sink = new SequenceSink();
        var settings = CrashLooping(Settings(workers: 2)) with
        {
            Restart = Settings().Restart with { MinBackoff = TimeSpan.Zero, MaxBackoff = TimeSpan.FromMilliseconds(1) },
        };
        var arbiter = Arbiter.Start(new ArbiterOptions(Shell("echo first; for i in 1 2 3 4 5 6 7 8 9; do echo $i; done"), settings, sink, []));
        try
        {
            await Eventually.UntilAsync(() => sink.Started().Count >= 40, TimeSpan.FromSeconds(60));
        }
        finally
        {
            await arbiter.StopAsync().WaitAsync(Patience);
        }

        var lines = sink.Lines;
        var started = sink.Started();
        Assert.True(started.Count >= 40, $"only {started.Count} starts");
        foreach (var (pid, startedAt) in started)
        {
            var first = lines.FindIndex(l => l == $"[{pid}] first");
            Assert.True(first == -1 || first > startedAt, $"pid {pid}'s first line came at {first}, before its start at {startedAt}:\n" +
                string.Join('\n', lines.Skip(Math.Max(0, first - 3)).Take(8)));
        }
        Assert.Contains(lines, l => l.EndsWith("] first"));
    }

    /// <summary>Every line in the one order the sink got them: the arbiter's as written, a worker's as <c>[pid] text</c>.</summary>
    private sealed partial class SequenceSink : IOutputSink
    {
        private readonly List<string> _lines = [];
        private readonly Lock _lock = new();

        public List<string> Lines
        {
            get { lock (_lock) return [.. _lines]; }
        }

        /// <summary>Each started pid, with the index of its "started" line.</summary>
        public List<(int Pid, int At)> Started() =>
            [.. Lines.Select((l, i) => (Match: StartedLine().Match(l), i)).Where(m => m.Match.Success).Select(m => (int.Parse(m.Match.Groups[1].Value), m.i))];

        public void WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines)
        {
            lock (_lock)
                _lines.AddRange(lines.Select(l => $"[{pid}] {Encoding.UTF8.GetString(l.Span)}"));
        }

        public void WriteLine(string line)
        {
            lock (_lock)
                _lines.Add(line);
        }

        [GeneratedRegex(@"^\[ufork\] w\d+: started pid (\d+)$")]
        private static partial Regex StartedLine();
    }

    [GeneratedRegex(@"\e\[[0-9;]*m")]
    private static partial Regex AnsiEscape();
}
