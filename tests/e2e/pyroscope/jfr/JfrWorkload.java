// The workload the JFR tests record: a known hot method on the main thread
// (CPU samples), allocations inside and outside TLABs, threads contending
// for one monitor (jdk.JavaMonitorEnter) and for a ReentrantLock
// (jdk.ThreadPark). Runs for the number of milliseconds in args[0];
// halfway through it starts a second recording, which makes the JVM begin
// a new chunk: the recording has two.
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import jdk.jfr.Recording;

public class JfrWorkload {
    static final Object MONITOR = new Object();
    static final ReentrantLock LOCK = new ReentrantLock();
    static volatile long sink;
    static volatile boolean running = true;

    static long hotBurn(long n) {
        long x = 1;
        for (long i = 0; i < n; i++)
            x = x * 6364136223846793005L + 1442695040888963407L + (x >>> 17);
        return x;
    }

    static void allocate() {
        while (running) {
            byte[] small = new byte[64];
            byte[] big = new byte[4 << 20];
            sink += small.length + big.length;
            LockSupport.parkNanos(1_000_000);
        }
    }

    static void holdMonitor() {
        while (running) {
            synchronized (MONITOR) {
                LockSupport.parkNanos(30_000_000);
            }
        }
    }

    static void holdLock() {
        while (running) {
            LOCK.lock();
            try {
                LockSupport.parkNanos(30_000_000);
            } finally {
                LOCK.unlock();
            }
        }
    }

    public static void main(String[] args) throws Exception {
        long start = System.currentTimeMillis(), length = Long.parseLong(args[0]);
        long until = start + length;
        Recording second = null;
        Thread[] threads = {
            new Thread(JfrWorkload::allocate, "allocator"),
            new Thread(JfrWorkload::holdMonitor, "monitor-1"),
            new Thread(JfrWorkload::holdMonitor, "monitor-2"),
            new Thread(JfrWorkload::holdLock, "lock-1"),
            new Thread(JfrWorkload::holdLock, "lock-2"),
        };
        for (Thread t : threads)
            t.start();
        while (System.currentTimeMillis() < until) {
            sink += hotBurn(2_000_000);
            if (second == null && System.currentTimeMillis() >= start + length / 2) {
                second = new Recording();
                second.start();
            }
        }
        running = false;
        if (second != null)
            second.close();
        for (Thread t : threads)
            t.join();
    }
}
