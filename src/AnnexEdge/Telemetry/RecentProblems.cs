using Serilog.Core;
using Serilog.Events;

namespace AnnexEdge.Telemetry;

/// <summary>A warning or error the edge logged, as the status page shows it.</summary>
internal sealed record Problem(DateTimeOffset At, LogEventLevel Level, int? EventId, string Message);

/// <summary>
/// The last <see cref="Capacity"/> warnings and errors the edge logged, for the status page: a Serilog sink with a
/// fixed ring, so a flood of errors costs the same memory as a few.
/// </summary>
internal sealed class RecentProblems : ILogEventSink
{
    public const int Capacity = 50;

    /// <summary>Long messages (an exception's stack, a huge header) are cut to this many characters.</summary>
    public const int MaxMessageLength = 1000;

    private readonly Problem?[] _ring = new Problem?[Capacity];
    private long _written;

    public void Emit(LogEvent logEvent)
    {
        if (logEvent.Level < LogEventLevel.Warning)
        {
            return;
        }

        var message = logEvent.RenderMessage();
        if (logEvent.Exception is { } exception)
        {
            message += $" ({exception.GetType().Name}: {exception.Message})";
        }

        if (message.Length > MaxMessageLength)
        {
            message = message[..MaxMessageLength] + "…";
        }

        var eventId = logEvent.Properties.TryGetValue("EventId", out var id) && id is StructureValue s
            && s.Properties.FirstOrDefault(p => p.Name == "Id")?.Value is ScalarValue { Value: int n } ? n : (int?)null;
        var problem = new Problem(logEvent.Timestamp, logEvent.Level, eventId, message);
        lock (_ring)
        {
            _ring[_written++ % Capacity] = problem;
        }
    }

    /// <summary>The kept problems, newest first.</summary>
    public IReadOnlyList<Problem> Snapshot()
    {
        lock (_ring)
        {
            var count = (int)Math.Min(_written, Capacity);
            var result = new Problem[count];
            for (var i = 0; i < count; i++)
            {
                result[i] = _ring[(_written - 1 - i) % Capacity]!;
            }

            return result;
        }
    }
}
