"""Training engines outside this process: an existing distributed engine trains, and the
result is written as an ordinary recsys model file.

- :mod:`recsys.engines.spark_als`: Apache Spark MLlib's ALS (``pyspark.ml.recommendation``),
  on ``local[*]`` or a cluster, for ``recsys train --engine spark`` and the bench's Spark
  adapter. Needs the ``spark`` extra (pyspark, pyarrow) and a Java 17+ runtime; pyspark is
  imported only inside the functions that use it.
"""
