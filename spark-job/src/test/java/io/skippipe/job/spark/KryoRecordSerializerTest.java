package io.skippipe.job.spark;

import static org.junit.jupiter.api.Assertions.*;

import io.skippipe.job.testing.LocalSparkExtension;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.storage.StorageLevel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import scala.Tuple2;

/** Records survive Kryo through a shuffle and a serialized cache (stack-probe §1.4). */
class KryoRecordSerializerTest {
  @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.local(2);

  @Test
  void recordsRoundTripThroughAShuffleAndSerializedCache() {
    List<KryoProbe> in = List.of(new KryoProbe(1, "a", new long[] {1, 2}),
        new KryoProbe(2, "b", new long[] {}), new KryoProbe(3, null, new long[] {7}));
    JavaRDD<KryoProbe> rdd = spark.jsc().parallelize(in, 2)
        .mapToPair(p -> new Tuple2<>(p.id() % 2, p)).groupByKey(2)
        .flatMap(t -> t._2().iterator()).repartition(3);
    rdd.persist(StorageLevel.MEMORY_ONLY_SER());
    List<KryoProbe> out = rdd.sortBy(KryoProbe::id, true, 1).collect();
    assertEquals(3, out.size());
    for (int i = 0; i < 3; i++) {
      assertEquals(in.get(i).id(), out.get(i).id());
      assertEquals(in.get(i).name(), out.get(i).name());
      assertArrayEquals(in.get(i).values(), out.get(i).values());
    }
    assertEquals("org.apache.spark.serializer.KryoSerializer",
        spark.session().sparkContext().conf().get("spark.serializer"));
  }
}
