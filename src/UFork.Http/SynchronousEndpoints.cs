using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace UFork.Http;

/// <summary>Plain blocking request handlers, for code that is not async.</summary>
public static class SynchronousEndpoints
{
    /// <summary>
    /// Maps <paramref name="pattern"/> (any method) to a blocking handler that returns the text/plain body.
    /// It runs on one of <see cref="UForkHttpOptions.SynchronousThreads"/> dedicated threads, so it may
    /// sleep or block on I/O without starving Kestrel. Only in an app started by <see cref="UForkHttp.ServeAsync"/>.
    /// </summary>
    public static IEndpointConventionBuilder MapSynchronous(
        this IEndpointRouteBuilder endpoints, string pattern, Func<HttpContext, string> handler)
    {
        var pool = endpoints.ServiceProvider.GetService<SynchronousHandlerPool>()
                   ?? throw new InvalidOperationException("MapSynchronous needs an app started by UForkHttp.ServeAsync");
        return endpoints.Map(pattern, async context =>
        {
            var body = Encoding.UTF8.GetBytes(await pool.RunAsync(() => handler(context)));
            context.Response.ContentType ??= "text/plain; charset=utf-8";
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        });
    }
}
