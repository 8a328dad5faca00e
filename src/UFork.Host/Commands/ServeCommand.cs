using System.CommandLine;
using System.Runtime.InteropServices;
using UFork.Configuration;
using UFork.Host.Serving;
using UFork.Hosting;
using UFork.Http;
using UFork.Prompt;
using UFork.Runtime;
using UFork.Sockets;

namespace UFork.Host.Commands;

/// <summary>
/// <c>ufork serve -w 4 --bind 127.0.0.1:8000</c>: the built-in hello-world app on N Kestrel workers that
/// share the arbiter's listening socket. Each worker is this same command started again.
/// </summary>
internal static class ServeCommand
{
    public const string DefaultBind = "127.0.0.1:8000";

    /// <param name="args">The whole command line, which each worker runs again.</param>
    public static Command Create(string[] args)
    {
        var options = new ArbiterCommandOptions();
        var noAccessLog = new Option<bool>("--no-access-log")
        {
            Description = "Print no line per request (the benchmarks run so)",
        };
        var single = new Option<bool>("--single")
        {
            Description = "Serve from this one process, without an arbiter: the baseline of bench/http.sh",
            Hidden = true,
        };
        var command = new Command("serve", $"Serve the built-in hello-world app from N workers sharing one socket (default --bind {DefaultBind})");
        options.AddTo(command);
        command.Options.Add(noAccessLog);
        command.Options.Add(single);
        command.SetAction(async (parsed, _) =>
        {
            var settings = options.Settings(parsed);
            var bind = options.BindAddresses(parsed, DefaultBind);
            var http = new UForkHttpOptions { AccessLog = !parsed.GetValue(noAccessLog), Backlog = settings.Backlog };
            if (parsed.GetValue(single))
                return await ServeSingleAsync(bind, settings, http with { DrainTimeout = settings.ShutdownGrace });
            return await Arbiter.RunAsync(args, settings, bind,
                (worker, stopping) => UForkHttp.ServeAsync(worker, HelloWorldApp.For(worker), stopping, http), console: new UForkPrompt());
        });
        return command;
    }

    /// <summary>The same app, sockets and Kestrel settings as a worker, in one process that stops on SIGINT or SIGTERM.</summary>
    private static async Task<int> ServeSingleAsync(IReadOnlyList<BindAddress> bind, UForkSettings settings, UForkHttpOptions http)
    {
        using var sockets = ListenSockets.Bind(bind, settings.Backlog);
        foreach (var address in sockets.Addresses)
            Console.WriteLine($"[ufork] listening on {address} (single process)");
        using var stopping = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stopping.Cancel();
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        var worker = new WorkerContext(0, Environment.ProcessId, sockets.Sockets.Select(s => s.Fd).ToList());
        await UForkHttp.ServeAsync(worker, HelloWorldApp.For(worker), stopping.Token, http);
        return 0;
    }
}
