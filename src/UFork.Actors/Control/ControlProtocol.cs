namespace UFork.Control;

/// <summary>
/// The control socket's wire format, both ends of it. Request: one line of at most 4096 bytes, a
/// command of the command set, with <c>json </c> in front for a JSON reply. Response: <c>ok</c> or
/// <c>error</c> on the first line, then the rendered reply; then the arbiter closes the connection.
/// Plain enough for <c>echo status | socat - UNIX-CONNECT:PATH</c>.
/// </summary>
public static class ControlProtocol
{
    public const int MaxRequestBytes = 4096;
    private const string JsonPrefix = "json ";
    private const string Ok = "ok";
    private const string Error = "error";

    public static string Request(string command, bool json) => (json ? JsonPrefix : "") + command + "\n";

    public static (string Command, bool Json) ParseRequest(string line) =>
        line.StartsWith(JsonPrefix, StringComparison.Ordinal)
            ? (line[JsonPrefix.Length..].Trim(), true)
            : (line.Trim(), false);

    public static string Response(bool ok, string output) => $"{(ok ? Ok : Error)}\n{output}\n";

    /// <summary>Whether the command succeeded and its output, or null if this is not a response at all.</summary>
    public static (bool Ok, string Output)? ParseResponse(string text)
    {
        var parts = text.Split('\n', 2);
        var output = parts.Length > 1 ? parts[1].TrimEnd('\n') : "";
        return parts[0] switch
        {
            Ok => (true, output),
            Error => (false, output),
            _ => null,
        };
    }
}
