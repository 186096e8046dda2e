namespace AnnexEdge.Clusters;

/// <summary>
/// The clock a cluster's <c>gettimestamp</c> answers with: Unix time in seconds from the edge's
/// <see cref="TimeProvider"/>. Every edge process of a cluster (on one host or several NTP-synced hosts) therefore
/// gives the same answer, which p2phttp requires of all servers of one repository; drift between hosts is covered by
/// the cluster's <c>TimestampSkewMargin</c> when deadlines are translated.
/// </summary>
internal sealed class ClusterClock(TimeProvider time)
{
    /// <summary>Now, in fractional seconds.</summary>
    public double Now() => time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>What <c>gettimestamp</c> answers: whole seconds, rounded down.</summary>
    public long Timestamp() => (long)Math.Floor(Now());
}

/// <summary>
/// Translates a <c>remove-before</c> deadline from the cluster's clock into a node's monotonic clock, rounding so
/// that the node's deadline is never later than the client's.
/// </summary>
internal static class RemoveBeforeTranslation
{
    /// <param name="deadline">The client's deadline, in the cluster clock (seconds).</param>
    /// <param name="nodeTimestamp">The node's gettimestamp answer (whole seconds, truncated by the node).</param>
    /// <param name="clusterTimeAfterRead">Cluster clock when the answer had arrived (the latest the node can have read its clock).</param>
    /// <param name="margin">Allowance for drift and latency.</param>
    /// <returns>The node deadline, or null when the deadline has already passed for that node.</returns>
    public static long? NodeDeadline(long deadline, long nodeTimestamp, double clusterTimeAfterRead, TimeSpan margin)
    {
        // The node's clock read at most clusterTimeAfterRead and showed at least nodeTimestamp: taking both bounds
        // that move the deadline earlier keeps the removal inside the client's window.
        var remaining = deadline - clusterTimeAfterRead - margin.TotalSeconds;
        var nodeDeadline = (long)Math.Floor(nodeTimestamp + remaining);
        return nodeDeadline > nodeTimestamp ? nodeDeadline : null;
    }
}
