using AnnexEdge.Clusters;

namespace AnnexEdge.Tests.Clusters;

public sealed class RemoveBeforeTranslationTests
{
    /// <summary>
    /// A node whose clock runs <c>offset</c> seconds ahead of the cluster clock reads it at some cluster time
    /// <c>readAt</c> (truncating to whole seconds), and the answer reaches the edge at <c>arrivedAt</c> &gt;= readAt.
    /// The node then removes while its own clock is before the translated deadline, i.e. up to the cluster time
    /// <c>nodeDeadline - offset</c>: that must never be after the client's deadline, less the margin.
    /// </summary>
    [Fact]
    public void The_node_deadline_is_never_later_than_the_client_deadline_less_the_margin()
    {
        var random = new Random(20250416);
        var checkedCount = 0;
        for (var i = 0; i < 200_000; i++)
        {
            var readAt = 1_700_000_000 + random.NextDouble() * 1_000_000;
            var offset = (random.NextDouble() - 0.5) * 2_000_000;
            var latency = random.NextDouble() * (i % 10 == 0 ? 30 : 0.5);
            var arrivedAt = readAt + latency;
            var margin = TimeSpan.FromMilliseconds(random.Next(0, 10_000));
            var deadline = (long)Math.Floor(arrivedAt) + random.Next(-5, 600);
            var nodeTimestamp = (long)Math.Floor(readAt + offset);

            var nodeDeadline = RemoveBeforeTranslation.NodeDeadline(deadline, nodeTimestamp, arrivedAt, margin);

            if (nodeDeadline is { } d)
            {
                checkedCount++;
                var lastClusterTimeOfRemoval = d - offset;
                Assert.True(
                    lastClusterTimeOfRemoval <= deadline - margin.TotalSeconds + 1e-6,
                    $"case {i}: node deadline {d} lets the node remove until cluster time {lastClusterTimeOfRemoval}, after {deadline} - {margin.TotalSeconds}");
                Assert.True(d > nodeTimestamp, $"case {i}: a deadline at or before the node's own now ({nodeTimestamp}) cannot be met");

                // Not needlessly early either: only the latency, the margin and two roundings are given up.
                Assert.True(
                    lastClusterTimeOfRemoval >= deadline - margin.TotalSeconds - latency - 2 - 1e-6,
                    $"case {i}: node deadline {d} is earlier than rounding explains");
            }
            else
            {
                // Null only when less than a whole second would be left on the node.
                Assert.True(deadline - arrivedAt - margin.TotalSeconds < 1 + 1e-6, $"case {i}: {deadline - arrivedAt - margin.TotalSeconds} s were left, yet the removal was refused");
            }
        }

        Assert.True(checkedCount > 100_000, $"only {checkedCount} cases produced a node deadline");
    }

    [Fact]
    public void A_larger_margin_never_moves_the_node_deadline_later()
    {
        var random = new Random(7);
        for (var i = 0; i < 50_000; i++)
        {
            var arrivedAt = 1_700_000_000 + random.NextDouble() * 1000;
            var nodeTimestamp = random.NextInt64(0, 10_000_000);
            var deadline = (long)arrivedAt + random.Next(0, 120);
            var small = TimeSpan.FromMilliseconds(random.Next(0, 5000));
            var large = small + TimeSpan.FromMilliseconds(random.Next(1, 5000));

            var withSmall = RemoveBeforeTranslation.NodeDeadline(deadline, nodeTimestamp, arrivedAt, small);
            var withLarge = RemoveBeforeTranslation.NodeDeadline(deadline, nodeTimestamp, arrivedAt, large);

            if (withLarge is { } l)
            {
                Assert.NotNull(withSmall);
                Assert.True(l <= withSmall.Value, $"case {i}: margin {large} gave {l}, margin {small} gave {withSmall}");
            }
        }
    }

    [Theory]
    // 10.5 s left on the node: its deadline rounds down to 10 s after its timestamp.
    [InlineData(1000, 5000, 989.5, 0, 5010L)]
    // Exactly 10 s left.
    [InlineData(1000, 5000, 990.0, 0, 5010L)]
    // The margin comes off: 10.5 - 2 = 8.5 s.
    [InlineData(1000, 5000, 989.5, 2000, 5008L)]
    // 1.5 s left: one whole second.
    [InlineData(1000, 5000, 998.5, 0, 5001L)]
    // Node clock far behind the cluster clock: only the difference counts.
    [InlineData(1_700_000_060, 12, 1_700_000_000.25, 1000, 70L)]
    public void The_deadline_is_the_node_timestamp_plus_the_time_left_rounded_down(
        long deadline, long nodeTimestamp, double arrivedAt, int marginMs, long expected)
    {
        Assert.Equal(expected, RemoveBeforeTranslation.NodeDeadline(deadline, nodeTimestamp, arrivedAt, TimeSpan.FromMilliseconds(marginMs)));
    }

    [Theory]
    // Less than a whole second left: the node's deadline would equal its own now.
    [InlineData(1000, 5000, 999.5, 0)]
    // Exactly at the deadline.
    [InlineData(1000, 5000, 1000.0, 0)]
    // Already past.
    [InlineData(1000, 5000, 1030.0, 0)]
    // Time left, but the margin eats it.
    [InlineData(1000, 5000, 995.0, 5000)]
    [InlineData(1000, 5000, 996.0, 3500)]
    public void A_deadline_that_has_passed_for_the_node_gives_null(long deadline, long nodeTimestamp, double arrivedAt, int marginMs)
    {
        Assert.Null(RemoveBeforeTranslation.NodeDeadline(deadline, nodeTimestamp, arrivedAt, TimeSpan.FromMilliseconds(marginMs)));
    }
}
