using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace UFork.Http;

/// <summary>
/// The access log: one line per request, <c>127.0.0.1 "GET /path?q HTTP/1.1" 200 0.12ms</c>, written
/// through a <see cref="BatchedLineWriter"/> so that a busy worker makes a few writes a second, not one
/// per request.
/// </summary>
internal sealed class AccessLog(Stream stdout) : IDisposable
{
    private readonly BatchedLineWriter _writer = new(stdout);

    public async Task Middleware(HttpContext context, RequestDelegate next)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            _writer.WriteLine(Format(context, Stopwatch.GetElapsedTime(started)));
        }
    }

    private static string Format(HttpContext context, TimeSpan elapsed)
    {
        var request = context.Request;
        var client = context.Connection.RemoteIpAddress?.ToString() ?? "-";
        return string.Create(CultureInfo.InvariantCulture,
            $"{client} \"{request.Method} {request.Path.ToUriComponent()}{request.QueryString} {request.Protocol}\" {context.Response.StatusCode} {elapsed.TotalMilliseconds:0.###}ms");
    }

    public void Dispose() => _writer.Dispose();
}
