using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Dispatch;
using Akka.Event;

namespace UFork.Output;

/// <summary>Hands an ActorSystem the <see cref="IOutputSink"/> its <see cref="SinkLogger"/> writes to.</summary>
public sealed class OutputSinkSetup(IOutputSink sink) : Setup
{
    public IOutputSink Sink { get; } = sink;
}

/// <summary>
/// An Akka logger that puts the arbiter's own log lines (<c>[ufork] w2: started pid 4711</c>) into the
/// same <see cref="IOutputSink"/> as the workers' lines, so both reach one place (terminal or log file)
/// in the order written: it queues them on the sink's <see cref="OutputWriter"/> and never waits for a
/// write, so a stuck terminal can hold up neither this logger nor the ActorSystem's termination. Embedded in an application's own ActorSystem, the arbiter logs through
/// whatever loggers that system has instead.
/// </summary>
public sealed class SinkLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public SinkLogger()
    {
        var sink = Context.System.Settings.Setup.Get<OutputSinkSetup>().Value?.Sink
                   ?? throw new InvalidOperationException($"{nameof(SinkLogger)} needs an {nameof(OutputSinkSetup)}");
        var output = new OutputWriter(sink);
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e => e.LogLevel() >= LogLevel.WarningLevel || e.LogSource.Contains("/user/"),
            e => output.WriteLine($"[ufork] {Level(e.LogLevel())}{e.Message}"));
        Receive<LogEvent>(_ => { }); // Akka's own chatter about starting and stopping the system
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.WarningLevel => "warning: ",
        LogLevel.ErrorLevel => "error: ",
        _ => "",
    };
}
