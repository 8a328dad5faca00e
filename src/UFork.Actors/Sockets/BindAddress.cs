using System.Globalization;
using System.Net;

namespace UFork.Sockets;

/// <summary>
/// Where a shared listening socket is bound, as a person writes it: <c>127.0.0.1:8000</c>,
/// <c>[::1]:8000</c>, <c>localhost:8000</c>, <c>0.0.0.0:0</c> (any free port), <c>:8000</c> (every IPv4 interface, as <c>0.0.0.0:8000</c>) or <c>unix:/run/app.sock</c>.
/// </summary>
public sealed record BindAddress
{
    private const string UnixPrefix = "unix:";
    private const string AllInterfaces = "0.0.0.0";

    private BindAddress(string text, string? host, int port, string? unixPath)
    {
        Text = text;
        Host = host;
        Port = port;
        UnixPath = unixPath;
    }

    /// <summary>The address as it was written, for messages.</summary>
    public string Text { get; }

    /// <summary>An IP literal or a host name; null for a unix socket.</summary>
    public string? Host { get; }

    public int Port { get; }

    /// <summary>The absolute path of a unix socket; null for TCP.</summary>
    public string? UnixPath { get; }

    public bool IsUnix => UnixPath is not null;

    /// <exception cref="FormatException">The text is none of the accepted forms; the message says why.</exception>
    public static BindAddress Parse(string text)
    {
        if (text.StartsWith(UnixPrefix, StringComparison.Ordinal))
        {
            var path = text[UnixPrefix.Length..];
            if (path.Length == 0)
                throw new FormatException("a unix socket needs a path, e.g. unix:/run/app.sock");
            return new BindAddress(text, null, 0, Path.GetFullPath(path));
        }
        var colon = text.LastIndexOf(':');
        if (colon < 0)
            throw new FormatException("expected HOST:PORT or unix:PATH");
        var host = colon == 0 ? AllInterfaces : text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
            host = host[1..^1];
        else if (host.Contains(':'))
            throw new FormatException("write an IPv6 address in brackets, e.g. [::1]:8000");
        if (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > IPEndPoint.MaxPort)
            throw new FormatException($"the port must be a number from 0 to {IPEndPoint.MaxPort}");
        if (host.Length == 0)
            throw new FormatException("the host is missing, e.g. 127.0.0.1:8000 or 0.0.0.0:8000");
        return new BindAddress(text, host, port, null);
    }

    public override string ToString() => Text;
}
