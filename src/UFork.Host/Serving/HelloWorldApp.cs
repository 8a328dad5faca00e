using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using UFork.Http;
using UFork.Runtime;

namespace UFork.Host.Serving;

/// <summary>
/// The app of <c>ufork serve</c>. <c>/</c> says which worker answered; <c>/slow?ms=N</c> (async) and
/// <c>/sleep?ms=N</c> (a blocking handler) take N ms, to watch graceful stops and the two kinds of handler.
/// </summary>
internal static class HelloWorldApp
{
    private const int MaxDelayMs = 60_000;
    private static readonly string BadDelayMessage = $"ms must be an integer from 0 to {MaxDelayMs}\n";

    public static Action<WebApplication> For(WorkerContext worker) => app =>
    {
        var who = $"worker {worker.WorkerId} (pid {worker.Pid})";
        var hello = Encoding.UTF8.GetBytes($"Hello World from {who}\n");
        app.MapGet("/", context =>
        {
            context.Response.ContentType = "text/plain; charset=utf-8";
            context.Response.ContentLength = hello.Length;
            return context.Response.Body.WriteAsync(hello).AsTask();
        });

        // Its first line is flushed before the wait, so a client knows the request is in flight.
        app.MapGet("/slow", async context =>
        {
            if (Delay(context) is not { } ms)
            {
                await BadDelay(context);
                return;
            }
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync($"sleeping {ms} ms\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await Task.Delay(ms, context.RequestAborted);
            await context.Response.WriteAsync($"done after {ms} ms in {who}\n", context.RequestAborted);
        });

        app.MapSynchronous("/sleep", context =>
        {
            if (Delay(context) is not { } ms)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return BadDelayMessage;
            }
            Thread.Sleep(ms);
            return $"slept {ms} ms on a blocking thread in {who}\n";
        });
    };

    private static int? Delay(HttpContext context) =>
        int.TryParse(context.Request.Query["ms"], NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms <= MaxDelayMs
            ? ms
            : null;

    private static Task BadDelay(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return context.Response.WriteAsync(BadDelayMessage);
    }
}
