using System.CommandLine;
using System.Text.Json;
using UFork.Control;
using UFork.Supervision;

namespace UFork.Host.Commands;

/// <summary>
/// <c>ufork ctl status</c>: one command of the command set, sent to a running arbiter's control socket;
/// prints what the prompt would. <c>help</c> is answered here, without an arbiter. Exit 0 on success, 1 if the command failed or no arbiter answered,
/// 2 on a usage error.
/// </summary>
internal static class CtlCommand
{
    private const int CommandFailedExitCode = 1;
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(30);
    // The arbiter answers `stop` once every worker has stopped, which takes up to its grace period, and
    // `restart` once every worker has been replaced.
    private static readonly TimeSpan LongAnswerTimeout = CommandExecutor.RestartTimeout + TimeSpan.FromSeconds(5);

    public static Command Create()
    {
        var control = new Option<string?>("--control")
        {
            Description = $"The arbiter's control socket (default: <pidfile>.sock with --pidfile, else {ControlSocketPath.Default})",
        };
        var pidFile = new Option<string?>("--pidfile")
        {
            Description = "The arbiter's pidfile, beside which its control socket is",
        };
        var json = new Option<bool>("--json")
        {
            Description = "Answer in JSON, for programs",
        };
        var words = new Argument<string[]>("command")
        {
            Description = "status | dead | scale N | restart [SLOT|all] | kill SLOT | log LEVEL | stop | help (SLOT: w0 or 0)",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("ctl", "Steer a running arbiter through its control socket");
        command.Options.Add(control);
        command.Options.Add(pidFile);
        command.Options.Add(json);
        command.Arguments.Add(words);
        command.SetAction(async (parsed, _) =>
        {
            var line = string.Join(' ', parsed.GetValue(words) ?? []);
            var asJson = parsed.GetValue(json);
            if (line.Trim() == "help") // the command set is this program's own: no arbiter needed to list it
            {
                Console.WriteLine(asJson ? JsonSerializer.Serialize(ArbiterCommand.Commands.Select(c => new { usage = c.Usage, help = c.Help })) : ReplyRenderer.Help());
                return 0;
            }
            var (message, error) = ArbiterCommand.Parse(line);
            if (message is null)
                return asJson ? JsonError(error!, CommandLineErrors.UsageExitCode) : throw new UsageException(error!);
            var path = ControlSocketPath.ForClient(FullPath(parsed.GetValue(control)), FullPath(parsed.GetValue(pidFile)));
            try
            {
                var (ok, output) = await ControlClient.SendAsync(path, line, asJson,
                    message is Shutdown or RestartWorkers ? LongAnswerTimeout : AnswerTimeout);
                if (ok || asJson && output.StartsWith('{'))
                    Console.WriteLine(output);
                else if (asJson)
                    return JsonError(TrimErrorPrefix(output), CommandFailedExitCode);
                else
                    Console.Error.WriteLine($"ufork: {TrimErrorPrefix(output)}");
                return ok ? 0 : CommandFailedExitCode;
            }
            catch (ControlClientException e)
            {
                if (asJson)
                    return JsonError(e.Message, CommandFailedExitCode);
                Console.Error.WriteLine($"ufork: {e.Message}");
                return CommandFailedExitCode;
            }
        });
        return command;
    }

    /// <summary>A program that asked for JSON gets its errors so too, on stdout, where it reads.</summary>
    private static int JsonError(string error, int exitCode)
    {
        Console.WriteLine(JsonSerializer.Serialize(new { ok = false, error }));
        return exitCode;
    }

    private static string? FullPath(string? path) => path is null ? null : Path.GetFullPath(path);

    private static string TrimErrorPrefix(string output) => output.StartsWith("error: ") ? output["error: ".Length..] : output;
}
