using System.CommandLine;
using UFork.Runtime;

namespace UFork.Host.Commands;

/// <summary>
/// <c>ufork worker --assembly app.dll --type Ns.Type --method Run</c>: what a worker of
/// <c>WorkerCommand.EntryPoint</c> runs. Hidden: an arbiter starts it, a person does not.
/// </summary>
internal static class WorkerEntryPointCommand
{
    public static Command Create()
    {
        var assembly = new Option<string>("--assembly") { Description = "The compiled assembly", Required = true };
        var type = new Option<string>("--type") { Description = "The full name of the type", Required = true };
        var method = new Option<string>("--method")
        {
            Description = "A static Task METHOD(WorkerContext, CancellationToken) of that type",
            DefaultValueFactory = _ => "Run",
        };
        var command = new Command("worker", "Run, inside a worker, a method of a compiled assembly") { Hidden = true };
        command.Options.Add(assembly);
        command.Options.Add(type);
        command.Options.Add(method);
        command.SetAction(async (parsed, _) =>
        {
            if (!WorkerEnvironment.IsWorker)
                throw new UsageException("worker runs inside a worker process that an arbiter started (see Arbiter.RunInteractiveAsync)");
            var entryPoint = WorkerEntryPoint.Load(parsed.GetValue(assembly)!, parsed.GetValue(type)!, parsed.GetValue(method)!);
            return await WorkerRuntime.RunAsync(entryPoint);
        });
        return command;
    }
}
