using AnnexEdge.Telemetry;
using Serilog.Events;
using Serilog.Parsing;

namespace AnnexEdge.Tests.Telemetry;

public sealed class RecentProblemsTests
{
    private static LogEvent Event(LogEventLevel level, string text, int? eventId = null) => new(
        DateTimeOffset.UnixEpoch,
        level,
        null,
        new MessageTemplateParser().Parse(text),
        eventId is { } id
            ? [new LogEventProperty("EventId", new StructureValue([new LogEventProperty("Id", new ScalarValue(id))]))]
            : []);

    [Fact]
    public void Keeps_only_the_last_warnings_and_errors_newest_first()
    {
        var problems = new RecentProblems();
        for (var i = 0; i < RecentProblems.Capacity * 3; i++)
        {
            problems.Emit(Event(i % 2 == 0 ? LogEventLevel.Warning : LogEventLevel.Error, "problem " + i, 4000 + i));
            problems.Emit(Event(LogEventLevel.Information, "fine " + i));
        }

        var kept = problems.Snapshot();

        Assert.Equal(RecentProblems.Capacity, kept.Count);
        Assert.Equal("problem " + (RecentProblems.Capacity * 3 - 1), kept[0].Message);
        Assert.Equal(4000 + RecentProblems.Capacity * 3 - 1, kept[0].EventId);
        Assert.Equal("problem " + RecentProblems.Capacity * 2, kept[^1].Message);
        Assert.DoesNotContain(kept, p => p.Message.StartsWith("fine", StringComparison.Ordinal));
    }

    [Fact]
    public void A_long_message_is_cut()
    {
        var problems = new RecentProblems();
        problems.Emit(Event(LogEventLevel.Error, new string('x', 100_000)));

        Assert.Equal(RecentProblems.MaxMessageLength + 1, Assert.Single(problems.Snapshot()).Message.Length);
    }
}
