package io.skippipe.job.spark;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.lang.reflect.Constructor;
import java.lang.reflect.RecordComponent;

/**
 * Kryo serializer for Java records: Kryo 4 (inside Spark) fails on records under Java 17 with
 * "can't get field offset on a record class" (stack-probe §1.4), so components are written one by
 * one and read back through the canonical constructor (which also re-runs its validation).
 */
public final class KryoRecordSerializer<T extends Record> extends Serializer<T> {
  private final RecordComponent[] components;
  private final Constructor<T> constructor;

  public KryoRecordSerializer(Class<T> type) {
    components = type.getRecordComponents();
    Class<?>[] types = new Class<?>[components.length];
    for (int i = 0; i < components.length; i++) {
      types[i] = components[i].getType();
    }
    try {
      constructor = type.getDeclaredConstructor(types);
      constructor.setAccessible(true);
      for (RecordComponent c : components) {
        c.getAccessor().setAccessible(true);
      }
    } catch (NoSuchMethodException e) {
      throw new IllegalArgumentException("no canonical constructor on " + type, e);
    }
  }

  @Override
  public void write(Kryo kryo, Output out, T obj) {
    try {
      for (RecordComponent c : components) {
        kryo.writeClassAndObject(out, c.getAccessor().invoke(obj));
      }
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public T read(Kryo kryo, Input in, Class<T> type) {
    Object[] args = new Object[components.length];
    for (int i = 0; i < args.length; i++) {
      args[i] = kryo.readClassAndObject(in);
    }
    try {
      return constructor.newInstance(args);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }
}
