using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace AnnexEdge.Bench;

/// <summary>
/// delay LISTEN-PORT:TARGET-PORT:DELAY-MS ...: a TCP forwarder on 127.0.0.1 standing for a wide-area link between
/// sites (bench/multisite.sh). Every byte is passed on DELAY-MS after it was read, in each direction, so a request and
/// its answer cost one round trip of 2 × DELAY-MS; the throughput is not limited (up to 64 MiB in flight per
/// direction and connection, well above what one delayed loopback stream carries). Connection set-up is not delayed.
/// Prints "ready" once every listener is bound, then runs until killed.
/// </summary>
internal static class DelayForward
{
    private const int ChunkSize = 256 * 1024;
    private const int MaxChunksInFlight = 256;

    // Its own pool: the shared one keeps few arrays of this size, and a fast link has up to MaxChunksInFlight in flight.
    private static readonly ArrayPool<byte> Buffers = ArrayPool<byte>.Create(ChunkSize, 4096);

    public static async Task<int> RunAsync(string[] args)
    {
        var links = new List<(TcpListener Listener, IPEndPoint Target, TimeSpan Delay)>();
        foreach (var arg in args)
        {
            var parts = arg.Split(':');
            if (parts.Length != 3
                || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out var listen)
                || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var target)
                || !double.TryParse(parts[2], CultureInfo.InvariantCulture, out var delayMs) || delayMs < 0)
            {
                Console.Error.WriteLine("usage: AnnexEdge.Bench delay LISTEN-PORT:TARGET-PORT:DELAY-MS ...");
                return 2;
            }

            var listener = new TcpListener(IPAddress.Loopback, listen);
            listener.Start(512);
            links.Add((listener, new IPEndPoint(IPAddress.Loopback, target), TimeSpan.FromMilliseconds(delayMs)));
        }

        if (links.Count == 0)
        {
            Console.Error.WriteLine("usage: AnnexEdge.Bench delay LISTEN-PORT:TARGET-PORT:DELAY-MS ...");
            return 2;
        }

        Console.WriteLine("ready");
        await Task.WhenAll(links.Select(l => AcceptAsync(l.Listener, l.Target, l.Delay)));
        return 0;
    }

    private static async Task AcceptAsync(TcpListener listener, IPEndPoint target, TimeSpan delay)
    {
        while (true)
        {
            var client = await listener.AcceptSocketAsync();
            _ = ForwardAsync(client, target, delay);
        }
    }

    private static async Task ForwardAsync(Socket client, IPEndPoint target, TimeSpan delay)
    {
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using (client)
        {
            client.NoDelay = true;
            try
            {
                await server.ConnectAsync(target);
                await Task.WhenAll(PumpAsync(client, server, delay), PumpAsync(server, client, delay));
            }
            catch (SocketException)
            {
                // The target refused: closing the client's end (the using) says so.
            }
        }
    }

    /// <summary>
    /// Reads from one socket and writes each chunk to the other once it is <paramref name="delay"/> old; an end of
    /// stream is passed on as a half-close, in turn. A failure on either side closes both sockets, which ends the pump
    /// of the other direction too.
    /// </summary>
    private static async Task PumpAsync(Socket from, Socket to, TimeSpan delay)
    {
        var chunks = Channel.CreateBounded<(long Due, byte[] Buffer, int Length)>(
            new BoundedChannelOptions(MaxChunksInFlight) { SingleReader = true, SingleWriter = true });
        var delayTicks = (long)(delay.TotalSeconds * Stopwatch.Frequency);

        async Task ReadAsync()
        {
            try
            {
                while (true)
                {
                    var buffer = Buffers.Rent(ChunkSize);
                    var n = await from.ReceiveAsync(buffer, SocketFlags.None);
                    if (n == 0)
                    {
                        Buffers.Return(buffer);
                        return;
                    }

                    await chunks.Writer.WriteAsync((Stopwatch.GetTimestamp() + delayTicks, buffer, n));
                }
            }
            finally
            {
                chunks.Writer.TryComplete();
            }
        }

        var reading = ReadAsync();
        try
        {
            await foreach (var (due, buffer, length) in chunks.Reader.ReadAllAsync())
            {
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }

                await to.SendAsync(buffer.AsMemory(0, length), SocketFlags.None);
                Buffers.Return(buffer);
            }

            to.Shutdown(SocketShutdown.Send);
            await reading;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or ChannelClosedException)
        {
            from.Dispose();
            to.Dispose();
        }
    }
}
