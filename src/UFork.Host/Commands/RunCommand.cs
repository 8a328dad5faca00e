using System.CommandLine;
using UFork.Daemon;
using UFork.Hosting;
using UFork.Output;
using UFork.Prompt;
using UFork.Sockets;
using UFork.Supervision;
using UFork.Worker;

namespace UFork.Host.Commands;

/// <summary><c>ufork run -w 4 -- python3 app.py</c>: keep N copies of any program alive.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var options = new ArbiterCommandOptions();
        var program = new Argument<string[]>("command")
        {
            Description = "The program each worker runs, and its arguments (after --)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("run", "Keep N copies of a command alive, echoing their output");
        options.AddTo(command);
        command.Arguments.Add(program);
        command.SetAction(async (parsed, _) =>
        {
            var words = parsed.GetValue(program) ?? [];
            if (words.Length == 0)
                throw new UsageException("run needs a command to start, e.g. ufork run -w 2 -- python3 app.py");
            if (words[0].StartsWith('-'))
                throw new UsageException($"unknown option {words[0]}");
            var settings = options.Settings(parsed);
            var worker = WorkerCommand.Program(words[0], words[1..]);
            return await Arbiter.ServeAsync(worker, settings, options.BindAddresses(parsed), console: new UForkPrompt());
        });
        return command;
    }
}
