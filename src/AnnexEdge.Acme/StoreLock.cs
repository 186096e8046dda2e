namespace AnnexEdge.Acme;

/// <summary>
/// An exclusive lock on <c>StorePath/.lock</c> between edge processes sharing the store, so only one of them orders
/// a certificate. .NET takes an flock(2) for <see cref="FileShare.None"/> on Unix, which the kernel drops when the
/// process dies, so a crashed holder never leaves the lock stuck.
/// </summary>
public sealed class StoreLock : IDisposable
{
    private readonly FileStream _file;

    private StoreLock(FileStream file)
    {
        _file = file;
    }

    public static StoreLock? TryAcquire(string storePath)
    {
        Directory.CreateDirectory(storePath);
        try
        {
            return new StoreLock(new FileStream(Path.Combine(storePath, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Waits for the lock; <paramref name="onWait"/> runs once if another process holds it.</summary>
    public static async Task<StoreLock> AcquireAsync(string storePath, TimeProvider time, Action? onWait, CancellationToken cancellationToken)
    {
        var waited = false;
        while (true)
        {
            if (TryAcquire(storePath) is { } acquired)
            {
                return acquired;
            }

            if (!waited)
            {
                waited = true;
                onWait?.Invoke();
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), time, cancellationToken);
        }
    }

    public void Dispose() => _file.Dispose();
}
