using System.Net;
using System.Net.Sockets;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// Loopback TCP ports for servers a test starts on a port of its choosing (p2phttp nodes, edge processes, Pebble).
/// They come from below the kernel's ephemeral range (<c>ip_local_port_range</c>), handed out in turn and never
/// twice: the kernel never gives such a port to a bind to port 0 or to an outgoing connection, so nothing else takes
/// it between now and the server's bind. (A port from the ephemeral range was taken once in that gap on a busy run:
/// an ACME edge failed to start with "address already in use".)
/// </summary>
public static class FreePort
{
    private static readonly (int First, int Last) Range = PortsBelowEphemeral();
    private static int _next = Random.Shared.Next(Range.Last - Range.First);

    /// <summary>A loopback TCP port that nothing listens on right now, and that no other caller got from here.</summary>
    public static int Next()
    {
        var size = Range.Last - Range.First + 1;
        for (var i = 0; i < size; i++)
        {
            var port = Range.First + (int)((uint)Interlocked.Increment(ref _next) % (uint)size);
            if (IsFree(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"no free loopback port in {Range.First}-{Range.Last}");
    }

    /// <summary>Whether nothing listens on this loopback port now (a bind to it succeeds).</summary>
    public static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static (int First, int Last) PortsBelowEphemeral()
    {
        var ephemeralFirst = 32768;
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            ephemeralFirst = int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or UnauthorizedAccessException)
        {
        }

        var last = Math.Max(ephemeralFirst - 1, 11000);
        return (Math.Max(10000, last - 12000), last);
    }
}
