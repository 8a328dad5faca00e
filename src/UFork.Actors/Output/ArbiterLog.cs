using Akka.Actor;
using Akka.Event;
using Microsoft.Extensions.Logging;
using AkkaLogLevel = Akka.Event.LogLevel;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace UFork.Output;

/// <summary>
/// Where the arbiter's own lines (<c>w2: started pid 4711</c>) go, decided here for every actor of the arbiter:
/// <list type="bullet">
/// <item>given an <see cref="ILoggerFactory"/> (Akka.Hosting's <c>WithUFork</c>, a Generic Host): through
/// Microsoft.Extensions.Logging, category <see cref="Category"/>; the workers' lines still go to the output;</item>
/// <item>in the arbiter's own ActorSystem (the <c>ufork</c> command, <c>Arbiter.Start(options)</c>): straight
/// onto the output's queue, at the moment of logging, so that they keep their order with the workers' lines
/// (a worker's "started pid N" comes before its first line), which Akka's asynchronous loggers cannot promise;</item>
/// <item>embedded in an application's ActorSystem without a factory: that system's Akka loggers.</item>
/// </list>
/// The level set with <c>log LEVEL</c> (the event stream's) applies to all three.
/// </summary>
internal static class ArbiterLog
{
    public const string Category = "UFork.Arbiter";

    public static ILoggingAdapter For(IActorContext context, ILoggerFactory? logging)
    {
        var bus = context.System.EventStream;
        if (logging is not null)
            return new ToMicrosoftLogging(logging.CreateLogger(Category), bus);
        if (context.System.Settings.Setup.Get<OutputSinkSetup>() is { HasValue: true } setup)
            return new ToOutput(new OutputWriter(setup.Value.Sink), bus);
        return context.GetLogger();
    }

    private abstract class Adapter(LoggingBus bus) : LoggingAdapterBase(DefaultLogMessageFormatter.Instance)
    {
        public override bool IsDebugEnabled => Enabled(AkkaLogLevel.DebugLevel);
        public override bool IsInfoEnabled => Enabled(AkkaLogLevel.InfoLevel);
        public override bool IsWarningEnabled => Enabled(AkkaLogLevel.WarningLevel);
        public override bool IsErrorEnabled => Enabled(AkkaLogLevel.ErrorLevel);

        protected virtual bool Enabled(AkkaLogLevel level) => level >= bus.LogLevel;

        protected override void NotifyLog(AkkaLogLevel logLevel, object message, Exception? cause = null)
        {
            if (Enabled(logLevel))
                Write(logLevel, cause is null ? $"{message}" : $"{message}: {cause.Message}");
        }

        protected abstract void Write(AkkaLogLevel level, string message);
    }

    private sealed class ToOutput(OutputWriter output, LoggingBus bus) : Adapter(bus)
    {
        protected override void Write(AkkaLogLevel level, string message) => output.WriteLine(LineFormat.ArbiterLine(level, message));
    }

    private sealed class ToMicrosoftLogging(ILogger logger, LoggingBus bus) : Adapter(bus)
    {
        protected override bool Enabled(AkkaLogLevel level) => base.Enabled(level) && logger.IsEnabled(Map(level));

        protected override void Write(AkkaLogLevel level, string message) => logger.Log(Map(level), "{Message}", message);

        private static LogLevel Map(AkkaLogLevel level) => level switch
        {
            AkkaLogLevel.DebugLevel => LogLevel.Debug,
            AkkaLogLevel.InfoLevel => LogLevel.Information,
            AkkaLogLevel.WarningLevel => LogLevel.Warning,
            _ => LogLevel.Error,
        };
    }
}
