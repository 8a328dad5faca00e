using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text.Unicode;
using Akka.Event;

namespace UFork.Output;

/// <summary>
/// The one place that decides how a line the arbiter writes looks, its own and its workers', on a terminal
/// and in a log file. As text, every line starts with its time (ISO 8601, milliseconds, the local offset),
/// then <c>[ufork]</c> or the worker's tag:
/// <code>
/// 2026-12-02T03:15:50.123+00:00 [ufork] w0: started pid 4711
/// 2026-12-02T03:15:50.161+00:00 [w0 4711] listening
/// 2026-12-02T03:15:50.162+00:00 [w0 4711 err] a line from stderr
/// </code>
/// As JSON, every line is one object: <c>{"time":…,"source":"worker","slot":0,"pid":4711,"stream":"stdout",
/// "level":"info","message":"listening"}</c>. A worker's bytes that are not UTF-8 are shown as \xNN in both,
/// so that neither a terminal nor a JSON parser meets broken text. Colours (a tag colour per slot, warnings
/// yellow, errors red) are for a terminal only: <see cref="ForStandardOutput"/> decides.
/// </summary>
public sealed partial class LineFormat
{
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fffzzz";
    private const string ArbiterTag = "[ufork]";
    private const string WarningWord = "warning: ";
    private const string ErrorWord = "error: ";
    private const string Reset = "\e[0m";
    private const string Dim = "\e[2m";
    private const string Bold = "\e[1m";
    private const string Yellow = "\e[33m";
    private const string Red = "\e[31m";

    // Neither yellow nor red, which mean warning and error: cyan, green, magenta, blue and their bright kin.
    private static readonly string[] SlotColours = ["\e[36m", "\e[32m", "\e[35m", "\e[34m", "\e[96m", "\e[92m", "\e[95m", "\e[94m"];

    private static readonly JsonWriterOptions JsonOptions = new()
    {
        // Valid JSON that keeps non-ASCII text readable; a log line is never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    private static ReadOnlySpan<byte> Hex => "0123456789abcdef"u8;

    private readonly int _arbiterPid = Environment.ProcessId;

    public LineFormat(LogFormat format, bool colour)
    {
        Format = format;
        Colour = colour && format == LogFormat.Text;
    }

    /// <summary>Text without colour: what a log file gets.</summary>
    public static LineFormat PlainText { get; } = new(LogFormat.Text, colour: false);

    public LogFormat Format { get; }

    public bool Colour { get; }

    /// <summary>
    /// For the process's stdout: colours only when it is a terminal and NO_COLOR is not set to anything
    /// (https://no-color.org), nor TERM dumb.
    /// </summary>
    public static LineFormat ForStandardOutput(LogFormat format) =>
        new(format, WantsColour(Environment.GetEnvironmentVariable("NO_COLOR"), Environment.GetEnvironmentVariable("TERM"), !Console.IsOutputRedirected));

    internal static bool WantsColour(string? noColor, string? term, bool toTerminal) =>
        toTerminal && string.IsNullOrEmpty(noColor) && term != "dumb";

    /// <summary>
    /// A text line as this class writes it without colour: groups <c>time</c>, <c>tag</c> (<c>[ufork]</c> or
    /// <c>[w0 4711]</c>, <c>[w0 4711 err]</c>), <c>slot</c>, <c>pid</c>, <c>err</c> and <c>text</c>.
    /// </summary>
    [GeneratedRegex(@"^(?<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) (?<tag>\[ufork\]|\[w(?<slot>\d+) (?<pid>\d+)(?<err> err)?\]) (?<text>.*)$")]
    public static partial Regex TextLine();

    /// <summary>An arbiter line as its code words it: <c>[ufork] warning: …</c> for a warning, <c>[ufork] error: …</c> for an error.</summary>
    public static string ArbiterLine(LogLevel level, string message) => level switch
    {
        LogLevel.WarningLevel => $"{ArbiterTag} {WarningWord}{message}",
        LogLevel.ErrorLevel => $"{ArbiterTag} {ErrorWord}{message}",
        _ => $"{ArbiterTag} {message}",
    };

    /// <summary>What goes before each of a batch's lines from one worker: worked out once a batch.</summary>
    internal byte[] WorkerPrefix(DateTimeOffset time, int slot, int pid, OutputStream stream)
    {
        var err = stream == OutputStream.Stderr ? " err" : "";
        return Encoding.UTF8.GetBytes(Format switch
        {
            LogFormat.Json => $$"""{"time":"{{Time(time)}}","source":"worker","slot":{{slot}},"pid":{{pid}},"stream":"{{Name(stream)}}","level":"{{(stream == OutputStream.Stderr ? "error" : "info")}}","message":""",
            _ when Colour => $"{Dim}{Time(time)}{Reset} {SlotColours[slot % SlotColours.Length]}[w{slot} {pid}{err}]{Reset} ",
            _ => $"{Time(time)} [w{slot} {pid}{err}] ",
        });
    }

    /// <summary>Appends one worker line, with its newline, after the batch's <paramref name="prefix"/>.</summary>
    internal void AppendWorkerLine(ArrayBufferWriter<byte> to, byte[] prefix, ReadOnlySpan<byte> line)
    {
        to.Write(prefix);
        if (Format == LogFormat.Json)
        {
            AppendJsonString(to, line);
            to.Write("}\n"u8);
            return;
        }
        AppendText(to, line);
        to.Write("\n"u8);
    }

    /// <summary>Appends one of the arbiter's own lines (<c>[ufork] …</c>, see <see cref="ArbiterLine"/>), with its newline.</summary>
    internal void AppendArbiterLine(ArrayBufferWriter<byte> to, DateTimeOffset time, string line)
    {
        var (level, message) = Parse(line);
        if (Format == LogFormat.Json)
        {
            var slot = SlotNamed(message) is { } n ? n.ToString(CultureInfo.InvariantCulture) : "null";
            to.Write(Encoding.UTF8.GetBytes(
                $$"""{"time":"{{Time(time)}}","source":"arbiter","slot":{{slot}},"pid":{{_arbiterPid}},"stream":"stdout","level":"{{level}}","message":"""));
            AppendJsonString(to, Encoding.UTF8.GetBytes(message));
            to.Write("}\n"u8);
            return;
        }
        var text = !Colour
            ? $"{Time(time)} {line}\n"
            : level switch
            {
                "warning" => $"{Dim}{Time(time)}{Reset} {Bold}{ArbiterTag}{Reset} {Yellow}{WarningWord}{message}{Reset}\n",
                "error" => $"{Dim}{Time(time)}{Reset} {Bold}{ArbiterTag}{Reset} {Red}{ErrorWord}{message}{Reset}\n",
                _ => $"{Dim}{Time(time)}{Reset} {Bold}{ArbiterTag}{Reset} {message}\n",
            };
        to.Write(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>The level and message of a line made by <see cref="ArbiterLine"/>; any other line is an info message as it stands.</summary>
    private static (string Level, string Message) Parse(string line)
    {
        if (!line.StartsWith(ArbiterTag + " ", StringComparison.Ordinal))
            return ("info", line);
        var message = line[(ArbiterTag.Length + 1)..];
        if (message.StartsWith(WarningWord, StringComparison.Ordinal))
            return ("warning", message[WarningWord.Length..]);
        if (message.StartsWith(ErrorWord, StringComparison.Ordinal))
            return ("error", message[ErrorWord.Length..]);
        return ("info", message);
    }

    /// <summary>The slot an arbiter message is about: its code starts those with <c>w2: </c>.</summary>
    private static int? SlotNamed(string message)
    {
        var colon = message.IndexOf(':');
        return message.StartsWith('w') && colon > 1 && int.TryParse(message.AsSpan(1, colon - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var slot)
            ? slot
            : null;
    }

    private static string Time(DateTimeOffset time) => time.ToString(TimeFormat, CultureInfo.InvariantCulture);

    private static string Name(OutputStream stream) => stream == OutputStream.Stderr ? "stderr" : "stdout";

    private static void AppendText(ArrayBufferWriter<byte> to, ReadOnlySpan<byte> line)
    {
        if (Utf8.IsValid(line))
            to.Write(line);
        else
            AppendEscaped(to, line);
    }

    private static void AppendJsonString(ArrayBufferWriter<byte> to, ReadOnlySpan<byte> line)
    {
        if (!Utf8.IsValid(line))
        {
            var escaped = new ArrayBufferWriter<byte>(4 * line.Length);
            AppendEscaped(escaped, line);
            line = escaped.WrittenSpan;
        }
        using var json = new Utf8JsonWriter(to, JsonOptions);
        json.WriteStringValue(line);
    }

    /// <summary>Valid UTF-8 as it is; every other byte as \xNN.</summary>
    private static void AppendEscaped(ArrayBufferWriter<byte> to, ReadOnlySpan<byte> line)
    {
        var into = to.GetSpan(4 * line.Length); // \xNN: at most 4 bytes for each byte
        var filled = 0;
        while (!line.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(line, out _, out var consumed);
            if (status == OperationStatus.Done)
            {
                line[..consumed].CopyTo(into[filled..]);
                filled += consumed;
            }
            else
            {
                foreach (var b in line[..consumed])
                {
                    into[filled++] = (byte)'\\';
                    into[filled++] = (byte)'x';
                    into[filled++] = Hex[b >> 4];
                    into[filled++] = Hex[b & 0xf];
                }
            }
            line = line[consumed..];
        }
        to.Advance(filled);
    }
}
