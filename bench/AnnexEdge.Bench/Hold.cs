using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace AnnexEdge.Bench;

/// <summary>
/// hold IDLE-URL IDLE-CONNECTIONS IDLE-PER-ADDRESS LOCK-URL LOCKS LOCKS-PER-ADDRESS [KEYS-FILE]: opens IDLE-CONNECTIONS
/// connections that each POST IDLE-URL (checkpresent) once and then stay open idle, and takes LOCKS locks by POSTing
/// LOCK-URL (lockcontent), each held by a keeplocked whose body stays open. Every answer is checked; any failure ends
/// the program with exit 1. The connections come from 127.1.x.y (IDLE-PER-ADDRESS per address) and the locks from
/// 127.2.x.y (LOCKS-PER-ADDRESS per address), as many clients would, so the edge's per-address limits stay as they are.
/// With KEYS-FILE (one key a line), lock i is on key i modulo their number instead of LOCK-URL's. A lockcontent answered
/// locked:false is asked again after 100 ms, up to 5 times, and counted.
/// Prints "ready IDLE LOCKS SECONDS-TO-OPEN SECONDS-TO-LOCK REFUSED", then reads commands from stdin: "check" prints
/// "held IDLE LOCKS" (connections the edge has not closed, keeplockeds it has not answered); "release" unlocks every
/// lock, checks the answers and prints "released LOCKS". End of input closes everything.
/// </summary>
internal static class Hold
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length is < 6 or > 7
            || !int.TryParse(args[1], CultureInfo.InvariantCulture, out var idleCount) || idleCount < 0
            || !int.TryParse(args[2], CultureInfo.InvariantCulture, out var idlePerAddress) || idlePerAddress < 1
            || !int.TryParse(args[4], CultureInfo.InvariantCulture, out var lockCount) || lockCount < 0
            || !int.TryParse(args[5], CultureInfo.InvariantCulture, out var locksPerAddress) || locksPerAddress < 1)
        {
            Console.Error.WriteLine("usage: AnnexEdge.Bench hold IDLE-URL IDLE-CONNECTIONS IDLE-PER-ADDRESS LOCK-URL LOCKS LOCKS-PER-ADDRESS [KEYS-FILE]");
            return 2;
        }

        var idleUrl = new Uri(args[0]);
        var lockUrl = new Uri(args[3]);
        // keeplocked?lockid=...&clientuuid=... at the same repository as lockcontent.
        var keeplockedPath = lockUrl.AbsolutePath.Replace("/lockcontent", "/keeplocked", StringComparison.Ordinal);
        var clientUuid = lockUrl.Query.TrimStart('?').Split('&').Single(p => p.StartsWith("clientuuid=", StringComparison.Ordinal));
        var keys = args.Length == 7 ? await File.ReadAllLinesAsync(args[6]) : [];
        string LockPath(int i) => keys.Length == 0
            ? lockUrl.PathAndQuery
            : $"{lockUrl.AbsolutePath}?key={Uri.EscapeDataString(keys[i % keys.Length])}&{clientUuid}";
        var refused = 0;
        using var setup = new CancellationTokenSource(TimeSpan.FromMinutes(10));

        var idle = new RawConnection[idleCount];
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, idleCount), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = setup.Token }, async (i, cancel) =>
        {
            var connection = await RawConnection.OpenAsync(idleUrl, Address(1, i / idlePerAddress), cancel);
            idle[i] = connection;
            var (status, body) = await connection.PostAsync(idleUrl.PathAndQuery, cancel);
            if (status != 200 || !body.Contains("\"present\":true", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"idle connection {i}: checkpresent answered {status} {body}");
            }
        });
        var openSeconds = clock.Elapsed.TotalSeconds;

        clock.Restart();
        var locks = new RawConnection[lockCount];
        await Parallel.ForEachAsync(Enumerable.Range(0, lockCount), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = setup.Token }, async (i, cancel) =>
        {
            var connection = await RawConnection.OpenAsync(lockUrl, Address(2, i / locksPerAddress), cancel);
            locks[i] = connection;
            var (status, body) = await connection.PostAsync(LockPath(i), cancel);
            for (var retry = 0; retry < 5 && status == 200 && body.Contains("\"locked\":false", StringComparison.Ordinal); retry++)
            {
                Interlocked.Increment(ref refused);
                await Task.Delay(100, cancel);
                (status, body) = await connection.PostAsync(LockPath(i), cancel);
            }

            using var answer = JsonDocument.Parse(body);
            if (status != 200 || !answer.RootElement.TryGetProperty("locked", out var locked) || !locked.GetBoolean())
            {
                throw new InvalidOperationException($"lock {i}: lockcontent answered {status} {body}, {refused} refusals so far");
            }

            var lockid = answer.RootElement.GetProperty("lockid").GetString();
            await connection.StartChunkedPostAsync($"{keeplockedPath}?lockid={Uri.EscapeDataString(lockid!)}&{clientUuid}", cancel);
        });
        var lockSeconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ready {idleCount} {lockCount} {openSeconds:F1} {lockSeconds:F1} {refused}"));

        while (await Console.In.ReadLineAsync() is { } command)
        {
            if (command == "check")
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"held {idle.Count(c => !c.PeerClosedOrAnswered)} {locks.Count(c => !c.PeerClosedOrAnswered)}"));
            }
            else if (command == "release")
            {
                using var release = new CancellationTokenSource(TimeSpan.FromMinutes(2));
                var released = 0;
                await Parallel.ForEachAsync(locks, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = release.Token }, async (connection, cancel) =>
                {
                    var (status, body) = await connection.EndChunkedPostAsync("{\"unlock\": true}", cancel);
                    if (status != 200 || !body.Contains("\"locked\":false", StringComparison.Ordinal))
                    {
                        throw new InvalidOperationException($"keeplocked answered {status} {body}");
                    }

                    Interlocked.Increment(ref released);
                });
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"released {released}"));
            }
        }

        foreach (var connection in idle.Concat(locks))
        {
            await connection.DisposeAsync();
        }

        return 0;
    }

    // 127.G.x.y with y from 1 to 250: the whole of 127/8 is loopback on Linux, so every address needs no set-up.
    private static IPAddress Address(int group, int index) =>
        new([127, (byte)group, (byte)(index / 250), (byte)(index % 250 + 1)]);
}
