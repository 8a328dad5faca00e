using UFork.Output;

namespace UFork.Tests.Support;

/// <summary>
/// Lines as the arbiter wrote them, without the time each starts with (matched by the product's own
/// <see cref="LineFormat.TextLine"/>): what tests compare, <c>[w0 4711] text</c> and <c>[ufork] …</c>.
/// </summary>
public static class LogLines
{
    /// <summary>The line without its leading time; a line in no known format, as it is.</summary>
    public static string WithoutTime(string line) =>
        LineFormat.TextLine().Match(line) is { Success: true } match ? line[(match.Groups["time"].Length + 1)..] : line;

    public static IEnumerable<string> Read(string path) => File.ReadLines(path).Select(WithoutTime);

    public static string[] ReadAll(string path) => [.. Read(path)];
}
