namespace UFork.Worker;

/// <summary>
/// What a worker process runs. Either any program (<see cref="Program"/>), or this same .NET program
/// started again (<see cref="SameProgram"/>), in which <c>Arbiter.RunAsync</c> runs the post-fork
/// function instead of an arbiter. The second kind speaks uFork's heartbeat protocol and watches the
/// arbiter's lifeline itself; the first is made to die with the arbiter by PR_SET_PDEATHSIG.
/// </summary>
public sealed record WorkerCommand(string FileName, IReadOnlyList<string> Arguments, bool IsUForkRuntime)
{
    /// <summary>Any executable, found on PATH like a shell would; a clear error if there is none.</summary>
    public static WorkerCommand Program(string command, IReadOnlyList<string> arguments) =>
        new(ResolveExecutable(command), arguments, IsUForkRuntime: false);

    /// <summary>This process's own program and entry assembly, started again with the given arguments.</summary>
    public static WorkerCommand SameProgram(IReadOnlyList<string> arguments)
    {
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell which program this is");
        var entry = System.Reflection.Assembly.GetEntryAssembly()?.Location;
        // Started as "dotnet app.dll", the program is the dll; started as an apphost, it is the host.
        var viaDotnet = Path.GetFileNameWithoutExtension(host) == "dotnet" && !string.IsNullOrEmpty(entry);
        return new WorkerCommand(host, viaDotnet ? [entry!, .. arguments] : arguments, IsUForkRuntime: true);
    }

    /// <summary>
    /// A static <c>Task Method(WorkerContext, CancellationToken)</c> of a compiled assembly, run in each
    /// worker by the ufork host beside this library (<c>ufork worker --assembly ... --type ... --method ...</c>):
    /// how a REPL, which cannot be started again as a worker, names what its workers do.
    /// </summary>
    public static WorkerCommand EntryPoint(string assemblyPath, string typeName, string methodName = "Run")
    {
        var library = Path.GetDirectoryName(typeof(WorkerCommand).Assembly.Location) ?? "";
        var host = Path.Combine(library, "ufork.dll");
        if (!File.Exists(host))
            throw new WorkerCommandException($"there is no ufork.dll beside {library}/UFork.Actors.dll: reference the one in the ufork build output");
        if (!File.Exists(assemblyPath))
            throw new WorkerCommandException($"{assemblyPath} does not exist");
        return new WorkerCommand(DotnetHost(), [host, "worker", "--assembly", Path.GetFullPath(assemblyPath), "--type", typeName, "--method", methodName],
            IsUForkRuntime: true);
    }

    public override string ToString() => string.Join(' ', Arguments.Prepend(FileName));

    /// <summary>The dotnet host running this process (a REPL is "dotnet fsi"), else the one on PATH.</summary>
    private static string DotnetHost() =>
        Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? self
            : ResolveExecutable("dotnet");

    private static string ResolveExecutable(string command)
    {
        if (command.Contains('/'))
            return IsExecutable(command)
                ? Path.GetFullPath(command)
                : throw new WorkerCommandException(File.Exists(command)
                    ? $"{command} is not executable"
                    : $"{command} does not exist");
        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries)
                   .Select(dir => Path.Combine(dir, command))
                   .FirstOrDefault(IsExecutable)
               ?? throw new WorkerCommandException($"{command}: command not found on PATH");
    }

    private static bool IsExecutable(string file) =>
        File.Exists(file) && (File.GetUnixFileMode(file) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
}

public sealed class WorkerCommandException(string message) : Exception(message);
